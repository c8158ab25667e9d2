"""`./mvs promote FROM TO`: the release FROM runs, copied into TO's stack file for review.

Promotion goes one stage at a time along dev -> staging -> prod, so nothing reaches prod that
staging has not run. It copies what FROM's last `up` made live (from FROM's release history, not
from its stack file, which may have moved on), and only when that `up` succeeded with exactly the
release FROM's stack file declares: a release that failed, or that nobody has applied yet, is not
promoted. TO gets every image pinned by its registry digest (`name@sha256:…`), so TO runs the very
bytes FROM ran even if a tag is pushed again. Like Heroku's promote, only the release moves: TO
keeps its own variables, secrets, sizes and replicas.

The change is printed (computed with deepdiff) and left in TO's stack file to review and commit;
`--apply` also runs `./mvs up TO`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from components.errors import MvsError
from components.spec import CONFIG_KEY, EnvironmentSpec
from components.stack_config import read_stack_config, stack_file

from . import releases, stack_edit
from .pulumi_cli import PROJECT_ROOT

PIPELINE = ("dev", "staging", "prod")


class PromotionRefused(MvsError):
    """The promotion would skip a stage, or FROM has no good release to give."""


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    version: str
    images: dict[str, str]
    changes: list[str]  # each change to TO's declaration, one line each
    file_change: str  # the unified diff of TO's stack file


def check_order(source: str, target: str) -> None:
    """Only to the next stage: dev -> staging, staging -> prod."""
    if source not in PIPELINE or target not in PIPELINE:
        raise PromotionRefused(f"promotion goes along {' -> '.join(PIPELINE)}; {source} -> {target} is not on it")
    if PIPELINE.index(target) != PIPELINE.index(source) + 1:
        following = PIPELINE[PIPELINE.index(source) + 1] if source != PIPELINE[-1] else None
        allowed = f"{source} promotes only to {following}" if following else f"{source} is the last stage"
        raise PromotionRefused(f"{source} -> {target} is refused: {allowed} ({' -> '.join(PIPELINE)})")


def pinned_images(source: str, record: dict[str, Any]) -> dict[str, str]:
    """Each service's image as FROM ran it, pinned by registry digest; refused when one is not."""
    built = sorted(name for name, service in record["services"].items() if service.get("image_id"))
    if built:
        raise PromotionRefused(
            f"{source} runs {', '.join(built)} built on this machine, which no registry has: images reach the next "
            "stage through CI (a push to main builds, pushes and records them by digest, see .github/workflows)"
        )
    images, unpinned = {}, []
    for name, service in sorted(record["services"].items()):
        image, digest = service.get("image") or "", service.get("digest")
        if not digest:
            unpinned.append(f"{name} ({image})")
            continue
        images[name] = image  # a recorded digest is the one the reference pins (components/release.py)
    if unpinned:
        raise PromotionRefused(
            f"{source} runs {', '.join(unpinned)} without a registry digest, so {source}'s exact images cannot be "
            f"named: pin them by digest (./mvs release set {source} --image SERVICE=NAME@sha256:…, as CI does), "
            f"./mvs up {source}, then promote"
        )
    return images


def good_release(source: str, declared: EnvironmentSpec) -> dict[str, Any]:
    """FROM's live release, when its last `up` succeeded and made exactly the declared release live."""
    history = releases.read(source)
    if not history.history:
        raise PromotionRefused(f"{source} has no recorded release: ./mvs up {source} first")
    if history.last_update != "succeeded":
        raise PromotionRefused(
            f"{source}'s last up {history.last_update}: only a release that went live is promoted. Fix {source} "
            f"(./mvs up {source}, or ./mvs rollback {source}) first"
        )
    live = history.history[0]
    ran = {name: service.get("image") for name, service in live["services"].items()}
    wanted = {name: declared.image_for(name) for name in live["services"]}
    if live["version"] != declared.release.version or ran != wanted:
        raise PromotionRefused(
            f"{stack_file(source)} declares release {declared.release.version}, but {source}'s last up made "
            f"{live['version']} live: ./mvs up {source} first, so only what {source} has run is promoted"
        )
    return live


def promote(source: str, target: str, source_spec: EnvironmentSpec, target_spec: EnvironmentSpec) -> Promotion:
    """Write FROM's live release into TO's stack file; nothing is written when anything is refused."""
    check_order(source, target)
    live = good_release(source, source_spec)
    images = pinned_images(source, live)
    missing = sorted(set(target_spec.services) - set(images))
    if missing:
        raise PromotionRefused(
            f"{target} declares services {', '.join(missing)} that {source}'s release does not name an image for"
        )
    before = declarations(target)
    file_change = stack_edit.edit_stack_file(target, stack_edit.set_release(live["version"], images, True))
    after = declarations(target)
    return Promotion(source, target, live["version"], images, describe(DeepDiff(before, after)), file_change)


def declarations(stack: str) -> dict[str, Any]:
    path = PROJECT_ROOT / stack_file(stack)
    return dict(read_stack_config(path, stack_file(stack)).get(CONFIG_KEY) or {})


def describe(diff: DeepDiff) -> list[str]:
    """One line per changed key of the declaration, as `key: old -> new`."""
    lines = []
    for path, change in diff.get("values_changed", {}).items():
        lines.append(f"{dotted(path)}: {change['old_value']} -> {change['new_value']}")
    for path in diff.get("dictionary_item_added", []):
        lines.append(f"{dotted(path)}: added")
    for path in diff.get("dictionary_item_removed", []):
        lines.append(f"{dotted(path)}: removed")
    return sorted(lines)


def dotted(path: str) -> str:
    """deepdiff's `root['release']['images']['backend']` as `release.images.backend`."""
    return ".".join(part.strip("'\"") for part in path.removeprefix("root[").removesuffix("]").split("]["))

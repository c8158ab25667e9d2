"""`base: debian`: the dev stack on Debian bookworm's own packages, for machines that reach no image
registry (Docker Hub cannot be pulled from) but do reach Debian's mirror.

The official base images are replaced by images made here: a debootstrap root file system of
bookworm (images/debian/README's recipe, made once per machine and kept in the user's cache), and
on it Node 18 (Debian's nodejs), Python 3.11 and PostgreSQL 15 (images/debian/*), the versions MVS
pins. The app and the backup runner build on them through their Dockerfiles' `BASE_IMAGE`, and
the database runs Debian's PostgreSQL 15 with an entrypoint that honours the official image's
variables. Builds use the host's network (RUN steps reach apt, npm and PyPI through it) and trust
the machine's own certificate authorities (a TLS proxy's). Staging and prod always run the
official images.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pulumi

from ..spec import BuildOptions
from .builds import local_image
from .providers.image import Image

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MACHINE_CAS = Path("/usr/local/share/ca-certificates")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
HOST_NETWORK = "host"
PARTS = ("node", "python", "postgres")


def apt_mirror() -> str:
    """The machine's own Debian mirror (its first non-security source), else Debian's."""
    files = []
    for source in APT_SOURCES:
        files += sorted(source.glob("*")) if source.is_dir() else [source] if source.is_file() else []
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            match = re.match(r"^(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+)", line.strip())
            if match and "security" not in match.group(1):
                return match.group(1)
    return DEFAULT_MIRROR


def machine_cas() -> dict[str, str]:
    """The machine's own certificate authorities, as files of the build context's extra-ca/."""
    found = sorted(MACHINE_CAS.glob("*.crt")) if MACHINE_CAS.is_dir() else []
    return {f"extra-ca/{path.name}": path.read_text() for path in found}


def with_base(options: BuildOptions, base: str) -> BuildOptions:
    """A build on `base` (unless the declaration names a BASE_IMAGE itself), on the host's network
    (unless it names one)."""
    return options.model_copy(
        update={
            "args": {"BASE_IMAGE": base, **options.args},
            "network": options.network or HOST_NETWORK,
        }
    )


def debian_bases(stack: str, project_root: Path, parent: pulumi.Resource) -> dict[str, Image]:
    """The debootstrap base and, on it, the node, python and postgres images."""
    recipe = {"suite": SUITE, "mirror": apt_mirror()}
    key = hashlib.sha256(f"{recipe['suite']} {recipe['mirror']}".encode()).hexdigest()[:12]
    base_name = f"mvs-debian:{SUITE}-{key}"
    options = pulumi.ResourceOptions(parent=parent)
    base = Image(f"{stack}-debian-image", name=base_name, debootstrap=recipe, opts=options)
    cas = machine_cas()
    images: dict[str, Image] = {"base": base}
    for part in PARTS:
        context = project_root / "images" / "debian" / part
        images[part] = local_image(
            f"{stack}-debian-{part}-image",
            f"mvs-debian-{part}",
            context,
            context / "Dockerfile",
            with_base(BuildOptions(), base_name),
            parent=parent,
            extra_files=cas if part != "postgres" else None,
            depends_on=[base],
        )
    return images

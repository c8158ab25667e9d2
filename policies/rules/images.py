"""Images: what runs is exactly what was reviewed.

Read from the image each resource runs: a Railway service's settings (`image`), a pulled Docker
image (`name`). Locally built images are tagged by a digest of what their build reads, so their
tag is a content address too.
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.spec.images import image_problem, split_image

from ..contract import resource_context, resource_policy
from ..declaration import DOCKER_IMAGE, SERVICE_INSTANCE, Part, is_local_build, part_of
from ..values import known, plain

PINNED = "every image is pinned by digest (name@sha256:…) or by an immutable version tag, never latest"
POSTGRES_MAJOR = re.compile(r"^v?(\d+)(?:$|[.-])")
IMAGE_FIELDS = {SERVICE_INSTANCE: "image", DOCKER_IMAGE: "name"}


def _image(args: ResourceValidationArgs, stack: str) -> tuple[Part, str, bool] | None:
    """(part, image reference, built here) of a resource that runs an image, when known."""
    field = IMAGE_FIELDS.get(args.resource_type)
    if field is None:
        return None
    props = plain(args.props)
    part = part_of(args.resource_type, args.name, stack, props)
    ref = props.get(field)
    if part is None or not known(ref):
        return None
    return part, ref, is_local_build(args.resource_type, props)


def images_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    found = _image(args, ctx.stack)
    if found is None:
        return
    part, ref, built = found
    if not ref:
        ctx.report(part.image_key(built), f"gives {args.name} no image; {PINNED}")
        return
    problem = image_problem(ref)
    if problem:
        ctx.report(part.image_key(built), f"is {ref}: {problem}; {PINNED}")


def prod_images_by_digest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    found = _image(args, ctx.stack) if ctx.prod else None
    if found is None:
        return
    part, ref, built = found
    if "@sha256:" not in (ref or ""):
        ctx.report(
            part.image_key(built),
            f"is {ref or 'not set'}; on prod every image is named by its digest (name:tag@sha256:…), so a tag "
            "re-pushed after review cannot reach production",
        )


def postgres_major_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    found = _image(args, ctx.stack)
    if found is None or found[0].kind != "database":
        return
    part, ref, _ = found
    _, tag, _ = split_image(ref or "")
    if not POSTGRES_MAJOR.match(tag or ""):
        ctx.report(
            part.image_key(),
            f"is {ref or 'not set'}, whose tag names no Postgres major version; the database image names its "
            "major (e.g. postgres:15.10-alpine, or :15.10@sha256:…): a new major does not start on the old one's "
            "data without a dump and restore",
        )


POLICIES = [
    resource_policy(
        "images-pinned",
        "Every image a service, the database or a backup job runs is pinned: a digest or an immutable version tag.",
        Severity.HIGH,
        images_pinned,
    ),
    resource_policy(
        "prod-images-by-digest",
        "On prod, every image is named by its digest (@sha256:…), so exactly the reviewed build runs.",
        Severity.HIGH,
        prod_images_by_digest,
    ),
    resource_policy(
        "postgres-major-pinned",
        "The database image names its Postgres major version in its tag.",
        Severity.HIGH,
        postgres_major_pinned,
    ),
]

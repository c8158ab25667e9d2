"""A program with one dynamic resource and no provider plugin: proves the toolchain end to end."""

import pulumi
from records import Record

config = pulumi.Config()
record = Record("greeting", content=config.require("content"), secret_note=config.require_secret("note"))
pulumi.export("digest", record.digest)
pulumi.export("note", record.secret_note)

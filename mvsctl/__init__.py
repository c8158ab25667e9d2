"""mvsctl: the everyday operations around `pulumi up` (validate, schema, bring a stack up).

Run through the `./mvs` wrapper, which sets up the tools first and puts them on PATH.
"""

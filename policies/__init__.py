"""The CrossGuard policy pack of mvs-infra: rules that stop unsafe changes before they reach Railway.

The declaration's validation (components/spec) checks that a stack file is well formed; these
rules read what the components actually register, so they also catch a component that drops a
health check, and they can say what validation cannot: prod must be safer than staging.

Layout: `__main__.py` only builds the pack (building it starts a server); the rules are in
`rules/`, one module per concern, each rule a plain function that tests call directly. Helpers:
`contract` (each rule's config and the wording of a finding), `declaration` (which declaration
key a resource comes from), `values` (properties as plain data, unknowns included), `schedules`
and `secret_shapes`.
"""

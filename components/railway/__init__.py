"""The Railway target: a GraphQL client (no Pulumi inside) and the operations it sends."""

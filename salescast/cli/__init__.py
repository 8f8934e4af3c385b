"""The `salescast` command line; one module per command group."""

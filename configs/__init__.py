"""The default configuration, shipped as package data so an installed salescast finds it:
`default.yaml` (every setting, with a comment each) and the TorchServe `config.properties` template."""

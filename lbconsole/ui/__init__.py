"""The Textual console. Only `lbconsole` with no subcommand (and replay) imports this."""

"""The `cimopt` command line: `main` parses and dispatches, one `*_cmd` module per command family,
`args` the helpers every command shares."""

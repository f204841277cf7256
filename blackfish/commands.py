"""The names of blackfish's own commands and the module that defines each.

Plain data, so the core can know the names (a stack may not be called `status`) without
importing the CLI, and the CLI can import a command's module only when it runs.
"""

COMMANDS: dict[str, str] = {
    "init": "blackfish.cli.config_cmds:init",
    "validate": "blackfish.cli.config_cmds:validate",
    "schema": "blackfish.cli.config_cmds:schema",
    "certs": "blackfish.cli.certs_cmds:certs",
    "env": "blackfish.cli.proxy_cmds:env",
    "context": "blackfish.cli.proxy_cmds:context",
}

"""The names of blackfish's own commands and the module that defines each.

Plain data, so the core can know the names (a stack may not be called `status`) without
importing the CLI, and the CLI can import a command's module only when it runs.
"""

COMMANDS: dict[str, str] = {
    "init": "blackfish.cli.config_cmds:init",
    "validate": "blackfish.cli.config_cmds:validate",
    "schema": "blackfish.cli.config_cmds:schema",
    "render": "blackfish.cli.render_cmd:render",
    "certs": "blackfish.cli.certs_cmds:certs",
    "dns": "blackfish.cli.dns_cmd:dns",
    "env": "blackfish.cli.proxy_cmds:env",
    "context": "blackfish.cli.proxy_cmds:context",
    "box": "blackfish.cli.box_cmds:box",
    "up": "blackfish.cli.lifecycle_cmds:up",
    "status": "blackfish.cli.lifecycle_cmds:status",
    "halt": "blackfish.cli.lifecycle_cmds:halt",
    "destroy": "blackfish.cli.lifecycle_cmds:destroy",
    "ssh": "blackfish.cli.lifecycle_cmds:ssh",
    "provision": "blackfish.cli.lifecycle_cmds:provision",
    "load": "blackfish.cli.cluster_cmds:load",
    "check": "blackfish.cli.cluster_cmds:check",
}

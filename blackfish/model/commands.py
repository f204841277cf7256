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

# Each command's one-line help, for `blackfish --help` without importing every command
# module (a fifth of its time). tests/unit/cli/test_cli.py checks each against its docstring.
SUMMARIES: dict[str, str] = {
    "box": "The Flatcar box that packer/ bakes with the service images pre-pulled.",
    "certs": "The stack's CA and certificates.",
    "check": "Smoke-test STACK: engines over TLS, swarm membership, a global service, the registry, consul.",
    "context": "Create or update the docker context blackfish-STACK.",
    "destroy": "Remove every node of the stack (its PKI stays unless --purge).",
    "dns": "Make *.STACK names resolve here through the stack's consul DNS (servers' port 8600).",
    "env": "Print shell exports that point docker at a manager of STACK.",
    "halt": "Stop every node, keeping its disk; `blackfish up` starts the same nodes again.",
    "init": "Write a commented starter nodes.yml with fresh secrets.",
    "load": "Copy IMAGEs from this machine's docker engine into every node of STACK.",
    "provision": "Render again and re-apply every node's user-data (booting halted nodes).",
    "render": "Render each node's user-data (cloud-config), creating the PKI first when needed.",
    "schema": "Print the JSON Schema of nodes.yml (for editor completion).",
    "ssh": "Open a shell on NODE, or run `-- COMMAND...` there.",
    "status": "Show every node: name, IP, roles, state, and what its provider adds.",
    "up": "Boot the stack: plan, PKI, user-data, boot, wait until the swarm is ready.",
    "validate": "Check nodes.yml and show the planned nodes.",
}

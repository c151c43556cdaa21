"""Renderers for the daemons' config files and the inventory. Pure functions: text in, text out."""

from __future__ import annotations

from lbconsole.lab import topology as t
from lbconsole.lab.topology import Node


def sshd_config(node: Node) -> str:
    # Debian's default sshd_config (PAM on, start-up files read), plus where this node listens.
    return f"""\
# lbconsole lab: sshd of {node.name}: Debian's defaults and the lab's address, key and limits
ListenAddress {node.ip}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
MaxStartups 200:30:400
MaxSessions 50
Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


NGINX_MAIN = """\
# lbconsole lab: nginx of {name}
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {{
    worker_connections 512;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    keepalive_timeout 30;
    include /etc/nginx/conf.d/*.conf;
}}
"""


def nginx_conf(node: Node) -> str:
    return NGINX_MAIN.format(name=node.name)


def nginx_site(node: Node) -> str:
    """conf.d/lab.conf: the web tier proxies to the backends; a backend answers with its name."""
    if "backend" in node.roles:
        return f"""\
# Backend {node.name}: logs who forwarded each request (the web node's address), not the health probes.
log_format forwarded '$remote_addr "$request" $status "$http_x_forwarded_for"';

server {{
    listen {t.BACKEND_PORT};
    server_name {node.name};
    access_log /var/log/nginx/access.log forwarded;
    location = {t.BACKEND_HEALTH} {{ access_log off; return 200 "ok\\n"; }}  # the web nodes' probes
    location = /nginx_status {{ stub_status; allow 127.0.0.1; deny all; }}
    location / {{ default_type text/plain; return 200 "hello from {node.name}\\n"; }}
}}
"""
    return f"""\
# Web node {node.name}: a real server of every virtual service (VIP on lo, DR).
{upstream_block()}
server {{
    listen 80;
    listen 8080;
    server_name {node.name};
    location = /nginx_status {{ stub_status; allow 127.0.0.1; deny all; }}
    location = /health {{ default_type text/plain; return 200 "ok\\n"; }}
    location / {{
        proxy_pass http://{t.UPSTREAM};
        proxy_http_version 1.1;  # keepalive to the upstream needs HTTP/1.1 and no "Connection: close"
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $remote_addr;
        add_header X-Served-By {node.name} always;
    }}
}}
"""


def upstream_block() -> str:
    """The upstream every web node proxies to: each backend, as issue 11's example has it."""
    servers = "".join(f"    server {b.ip}:{t.BACKEND_PORT} max_fails=2 fail_timeout=10s;\n" for b in t.BACKENDS)
    return f"upstream {t.UPSTREAM} {{\n{servers}    keepalive 32;\n}}\n"


def _real_server(web: Node, port: int) -> str:
    return f"""\
    real_server {web.ip} {port} {{
        weight 100
        HTTP_GET {{
            url {{
                path /health
                status_code 200
            }}
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
"""


def keepalived_conf(node: Node) -> str:
    """VRRP VI_1 (lb1 MASTER 150, lb2 BACKUP 100) plus IPVS virtual services with HTTP checks."""
    master = node.name == t.MASTER.name
    services = []
    for port, persistence in t.SERVICES:
        persist = f"    persistence_timeout {persistence}\n" if persistence else ""
        reals = "".join(_real_server(w, port) for w in t.WEB_NODES)
        services.append(f"""\
virtual_server {t.VIP} {port} {{
    delay_loop 2
    lb_algo wlc
    lb_kind DR
    protocol TCP
{persist}{reals}}}
""")
    return f"""\
# lbconsole lab: keepalived of {node.name}
global_defs {{
    router_id {node.name}
    enable_script_security
    script_user root
    vrrp_garp_master_delay 1
}}

vrrp_instance {t.VRRP_INSTANCE} {{
    state {"MASTER" if master else "BACKUP"}
    interface eth0
    virtual_router_id {t.VRRP_ROUTER_ID}
    priority {t.PRIORITY[node.name]}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass {t.VRRP_PASSWORD}
    }}
    virtual_ipaddress {{
        {t.VIP}/{t.PREFIXLEN} dev eth0
    }}
}}

""" + "\n".join(services)


def inventory_toml() -> str:
    """The public inventory contract (see the issue): defaults, one cluster, its nodes."""
    lines = [
        "# Written by `lbconsole lab up`: the lab cluster, reached over SSH from the lbc-ops namespace.",
        "[defaults]",
        'user = "root"',
        "port = 22",
        f'identity = "{t.IDENTITY}"',
        f'known_hosts = "{t.KNOWN_HOSTS}"',
        "sudo = false",
        "poll_interval = 1.0",
        "connect_timeout = 60  # a root session in the emulated VM runs pyenv init: ~10-20 s",
        "",
        "[[cluster]]",
        f'name = "{t.CLUSTER_NAME}"',
        f'color = "{t.CLUSTER_COLOR}"',
    ]
    for node in t.NODES:
        roles = ", ".join(f'"{r}"' for r in node.roles)
        lines += ["", "[[cluster.node]]", f'name = "{node.name}"', f'host = "{node.ip}"',
                  f"roles = [{roles}]"]
        if node.name in t.SUDO_NODES:  # a non-root account with only the sudoers drop-in
            lines += [f'user = "{t.SUDO_USER}"', "sudo = true"]
    # The web nodes probe each backend with a GET of its health page (else a TCP connect).
    lines += ["", "[[cluster.upstream]]", f'name = "{t.UPSTREAM}"', f'health_path = "{t.BACKEND_HEALTH}"']
    return "\n".join(lines) + "\n"

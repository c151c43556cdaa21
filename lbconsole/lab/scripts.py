"""Shell scripts the lab runs where Python is slow or absent: a node's boot script
(host namespaces and VM alike), the VM's init inside the chroot, and the initramfs /init."""

from __future__ import annotations

from lbconsole.lab import topology as t

# Bind-mounted per-node directories: (dir under nodes/NAME, mount point).
BINDS = (
    ("etc-ssh", "/etc/ssh"),
    ("etc-nginx", "/etc/nginx"),
    ("etc-keepalived", "/etc/keepalived"),
    ("root", "/root"),  # its own home and .ssh, with this machine's ~/.bashrc (see HOME_TOOLS)
    ("var-lib-lbconsole", "/var/lib/lbconsole"),
    ("usr-local-lib-lbconsole", "/usr/local/lib/lbconsole"),  # `lbconsole node install` writes here
    ("etc-sudoers-d", "/etc/sudoers.d"),  # and its sudoers drop-in here: never the host's
)
# What root's ~/.bashrc on this machine runs (pyenv init, cargo's env): the host's own, bound into
# each node's home, so every SSH session to a node pays what it pays on a real host.
HOME_TOOLS = (".pyenv", ".cargo")
# Private tmpfs mounts; /var/log covers /var/log/nginx and keeps each node's logs its own.
TMPFS = ("/run", "/tmp", "/var/log", "/var/lib/nginx")

_home_tools = "\n".join(f'[ -d /root/{x} ] && mkdir -p "$d/root/{x}" && mount --bind /root/{x} "$d/root/{x}"'
                        for x in HOME_TOOLS)
_binds = _home_tools + "\n" + "\n".join(f'mount --rbind "$d/{src}" {dst}' for src, dst in BINDS)

# Runs as `unshare --mount --uts --propagation private -- sh node-boot.sh NAME` inside the
# node's network namespace. It stays alive (the "holder") so the host can nsenter the node.
NODE_BOOT = f"""\
#!/bin/sh
# lbconsole lab: make this namespace look like a host called $1, start its daemons, hold it.
set -e
name=$1
d={t.NODES_DIR}/$name
hostname "$name"
for m in {" ".join(TMPFS)}; do mount -t tmpfs -o mode=0755 "tmpfs-$name" "$m"; done
chmod 1777 /tmp
mkdir -p /var/log/nginx /run/sshd
{_binds}
echo $$ > "$d/holder.pid"
/usr/sbin/sshd -E /var/log/sshd.log
if [ -f /etc/nginx/conf.d/lab.conf ]; then /usr/sbin/nginx; fi
if [ -f /etc/keepalived/keepalived.conf ]; then
    # -n -l: keep it attached so its log has somewhere to go (there is no syslog in a node).
    /usr/sbin/keepalived -n -l -D >/var/log/keepalived.log 2>&1 &
fi
touch "$d/booted"
set +e
# The holder: reap what ends, never exit.
while :; do sleep 3600 & wait $!; done
"""

# Started by PID 1 of the VM inside the chroot (the host's root over 9p with a tmpfs overlay).
# It wires one NIC per director into its own namespace, boots the directors, then serves the
# control queue: the host drops vm/ctl/ID.sh, this runs it and leaves ID.out and ID.rc.
VM_INIT = """\
#!/bin/sh
# lbconsole lab VM: PID 1 after chroot.
lab={lab}
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp; chmod 1777 /tmp
mkdir -p /dev/pts /run/netns; mount -t devpts devpts /dev/pts 2>/dev/null
mkdir -p /lib/modules/{kver}; mount --bind $lab/cache/kernel/lib/modules/{kver} /lib/modules/{kver}
hostname lbc-vm
ip link set lo up
# The directors' state on the VM's own disk (vm.STATE_DISK), not on the 9p share.
mkdir -p /var/lib/lbc-state
if ! mount -t ext4 /dev/vda /var/lib/lbc-state; then
    echo "the directors' state disk /dev/vda did not mount" > $lab/vm/ready; exec sleep 1000000
fi
boot_director() {{  # NAME IP MAC
    for dev in /sys/class/net/*; do
        [ "$(cat $dev/address)" = "$3" ] || continue
        ip netns add "$1"
        ip link set "${{dev##*/}}" netns "$1"
        ip -n "$1" link set "${{dev##*/}}" name eth0
        ip -n "$1" link set lo up
        ip -n "$1" addr add "$2/{plen}" dev eth0
        ip -n "$1" link set eth0 up
        mkdir -p /var/lib/lbc-state/$1 $lab/nodes/$1/var-lib-lbconsole
        mount --bind /var/lib/lbc-state/$1 $lab/nodes/$1/var-lib-lbconsole
        ip netns exec "$1" unshare --mount --uts --propagation private -- \\
            /bin/sh $lab/bin/node-boot.sh "$1" >$lab/nodes/$1/boot.log 2>&1 &
    done
}}
{directors}
echo up > $lab/vm/ready
cd $lab/vm/ctl
while :; do
    for f in *.sh; do
        [ -e "$f" ] || continue
        id=${{f%.sh}}
        mv "$f" "$id.run"
        ( sh "$id.run" >"$id.out" 2>&1; echo $? >"$id.rc.tmp"; mv "$id.rc.tmp" "$id.rc"; rm -f "$id.run" ) &
    done
    sleep 0.2 & wait $!
done
"""


def vm_init(kver: str) -> str:
    directors = "\n".join(f"boot_director {n.name} {n.ip} {n.mac}" for n in t.DIRECTORS)
    return VM_INIT.format(lab=t.LAB_DIR, kver=kver, plen=t.PREFIXLEN, directors=directors)


# /init of the busybox initramfs: load modules, mount the host root (read-only 9p) under a
# tmpfs overlay, mount the lab share writable, chroot and run vm-init.sh as PID 1.
INITRAMFS_INIT = """\
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "lbc-initramfs: loading modules"
while read m; do insmod /modules/$m || echo "lbc-initramfs: insmod $m failed"; done < /modules/order
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || exec sh
mount -t tmpfs -o size=512m tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || exec sh
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lab /newroot{lab} || exec sh
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
echo "lbc-initramfs: chroot"
exec chroot /newroot /bin/sh {lab}/bin/vm-init.sh
"""


def initramfs_init() -> str:
    return INITRAMFS_INIT.format(lab=t.LAB_DIR)

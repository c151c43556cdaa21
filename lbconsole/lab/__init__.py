"""`lbconsole lab`: a real LVS-DR cluster (keepalived directors in a qemu VM,
nginx nodes, a backend, a client and an ops namespace) on one machine.

Public Python API: `lbconsole.lab.api`. Names and addresses: `lbconsole.lab.topology`.
"""

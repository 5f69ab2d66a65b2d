"""The soak's faults: PostgreSQL restarted or killed, a receiver down, and a bad network between
the instances and PostgreSQL (in a network namespace the soak makes and removes)."""
import os, shutil, signal, subprocess, sys, threading

HERE = os.path.dirname(os.path.abspath(__file__))


def pg_ctl(command, mode):
    cluster = sorted(os.listdir("/etc/postgresql"))[-1]
    extra = ["-m", mode] if mode else []
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", command, *extra], check=True)


def later(seconds, action):
    """`action` after `seconds`, on a thread that does not keep the process alive."""
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def outage(catcher, seconds):
    catcher.down = True
    later(seconds, lambda: setattr(catcher, "down", False))


def run(*command):
    subprocess.run(command, check=True, capture_output=True)


class Namespace:
    """A network namespace joined to this one by a veth pair (10.231.N.1 here, .2 inside). The
    instances run inside it and reach PostgreSQL at 10.231.N.1:5432 through a delay line
    (delayline.py) that relays to 127.0.0.1:5432. `impair` makes that path bad for a while: 200 ms
    more on every round trip (the delay line) and 5 % of the packets each way dropped (nftables in
    the namespace, so nothing else on the machine is touched). `close` removes all of it.

    Not `tc netem`: the kernel this was built on has no netem qdisc (`tc qdisc add ... netem`
    answers "Specified qdisc kind is unknown"), and loss is better made by dropping real packets
    than imitated. Where netem exists, `tc qdisc add dev <host_if> root netem delay 200ms loss 5%`
    on the veth gives the same fault."""
    def __init__(self):
        if not shutil.which("nft"):
            sys.exit("bench/soak: the network fault needs nft (apt-get install nftables)")
        tag = os.getpid() % 100000
        self.name, self.host_if, ns_if = f"bfsoak{tag}", f"bfs{tag}h", f"bfs{tag}n"
        subnet = f"10.231.{os.getpid() % 250}"
        self.host, self.inside = f"{subnet}.1", f"{subnet}.2"
        self.delayline, self.heal = None, None
        try:
            self.build(ns_if)
        except BaseException:
            self.close()
            raise

    def build(self, ns_if):
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", ns_if)
        run("ip", "link", "set", ns_if, "netns", self.name)
        run("ip", "addr", "add", f"{self.host}/30", "dev", self.host_if)
        run("ip", "link", "set", self.host_if, "up")
        for command in (["addr", "add", f"{self.inside}/30", "dev", ns_if], ["link", "set", ns_if, "up"],
                        ["link", "set", "lo", "up"]):
            run("ip", "netns", "exec", self.name, "ip", *command)
        self.delayline = subprocess.Popen([sys.executable, os.path.join(HERE, "delayline.py"), self.host, "5432",
                                           "127.0.0.1", "5432"], stdout=subprocess.PIPE, text=True)
        self.delayline.stdout.readline()
        self.wrap = ("ip", "netns", "exec", self.name)

    def impair(self, seconds):
        self.delayline.send_signal(signal.SIGUSR1)
        nft = ("ip", "netns", "exec", self.name, "nft")
        run(*nft, "add", "table", "inet", "soak")
        for chain, hook, match in (("out", "output", "dport"), ("in", "input", "sport")):
            run(*nft, "add", "chain", "inet", "soak", chain, f"{{ type filter hook {hook} priority 0; }}")
            run(*nft, "add", "rule", "inet", "soak", chain, "tcp", match, "5432", "numgen", "random", "mod", "100",
                "<", "5", "drop")
        def heal():
            self.delayline.send_signal(signal.SIGUSR2)
            run(*nft, "delete", "table", "inet", "soak")
        self.heal = later(seconds, heal)

    def close(self):
        if self.heal:
            self.heal.cancel()
        if self.delayline:
            self.delayline.terminate()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)   # takes the veth pair with it

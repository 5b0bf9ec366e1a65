"""A stand-in for firewalld on a private D-Bus bus (test_firewalld.py): it owns the name
org.fedoraproject.FirewallD1 and answers the part of firewalld's D-Bus interface that
berth uses, the way firewalld answers it (its error strings start with firewalld's codes).
It changes no firewall. Every call is recorded, and after each one the state (permanent
and runtime zones, policies, calls) is written to a JSON file the test reads.

    fake_firewalld.py BUS-ADDRESS STATE-FILE

SIGUSR1: reload, as `firewall-cmd --reload` does (the runtime configuration becomes the
permanent one again, so interfaces added at runtime are gone; then the Reloaded signal).
SIGUSR2: the zone "docker" is deleted from the permanent configuration, then a reload
(`firewall-cmd --permanent --delete-zone=docker; firewall-cmd --reload`).
SIGTERM: exit."""
import copy
import json
import os
import signal
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

NAME = "org.fedoraproject.FirewallD1"
PATH = "/org/fedoraproject/FirewallD1"


class FirewallError(dbus.DBusException):
    _dbus_error_name = NAME + ".Exception"


class State:
    def __init__(self, path):
        self.path = path
        self.permanent = {"public": {"target": "default", "interfaces": []}}
        self.runtime = copy.deepcopy(self.permanent)
        self.policies = {}
        self.calls = []

    def record(self, *call):
        self.calls.append([str(c) if not isinstance(c, (list, dict)) else c for c in call])
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"permanent": self.permanent, "runtime": self.runtime, "policies": self.policies,
                       "calls": self.calls, "pid": os.getpid()}, f)
        os.rename(tmp, self.path)


class Firewalld(dbus.service.Object):
    def __init__(self, bus, state):
        super().__init__(bus, PATH)
        self.state = state

    @dbus.service.method(NAME, out_signature="s")
    def getDefaultZone(self):
        return "public"

    @dbus.service.method(NAME)
    def reload(self):
        self.state.record("reload")
        self.do_reload()

    def do_reload(self):
        self.state.runtime = copy.deepcopy(self.state.permanent)
        self.state.save()
        self.Reloaded()

    @dbus.service.signal(NAME)
    def Reloaded(self):
        pass

    @dbus.service.method(NAME + ".zone", out_signature="as")
    def getZones(self):
        self.state.record("getZones")
        return sorted(self.state.runtime)

    def zone(self, zone):
        if zone not in self.state.runtime:
            raise FirewallError("INVALID_ZONE: %s" % zone)
        return self.state.runtime[zone]

    @dbus.service.method(NAME + ".zone", in_signature="s", out_signature="as")
    def getInterfaces(self, zone):
        self.state.record("getInterfaces", zone)
        return self.zone(zone)["interfaces"]

    @dbus.service.method(NAME + ".zone", in_signature="ss", out_signature="s")
    def addInterface(self, zone, interface):
        self.state.record("addInterface", zone, interface)
        z = self.zone(zone)
        if interface in z["interfaces"]:
            raise FirewallError("ZONE_ALREADY_SET: '%s' already bound to '%s'" % (interface, zone))
        for name, other in self.state.runtime.items():
            if interface in other["interfaces"]:
                raise FirewallError("ZONE_CONFLICT: '%s' already bound to '%s'" % (interface, name))
        z["interfaces"].append(str(interface))
        self.state.save()
        return zone

    @dbus.service.method(NAME + ".zone", in_signature="ss", out_signature="s")
    def removeInterface(self, zone, interface):
        self.state.record("removeInterface", zone, interface)
        z = self.zone(zone)
        if interface not in z["interfaces"]:
            raise FirewallError("UNKNOWN_INTERFACE: '%s' is not in '%s'" % (interface, zone))
        z["interfaces"].remove(interface)
        self.state.save()
        return zone


class Config(dbus.service.Object):
    def __init__(self, bus, state):
        super().__init__(bus, PATH + "/config")
        self.state = state

    @dbus.service.method(NAME + ".config", in_signature="s(sssbsasa(ss)asba(ssss)asasasasa(ss)b)", out_signature="o")
    def addZone(self, zone, settings):
        self.state.record("addZone", zone, [s if not isinstance(s, dbus.Boolean) else bool(s) for s in settings])
        if zone in self.state.permanent:
            raise FirewallError("NAME_CONFLICT: new_zone(): '%s'" % zone)
        self.state.permanent[str(zone)] = {"target": str(settings[4]), "interfaces": [str(i) for i in settings[10]]}
        self.state.save()
        return dbus.ObjectPath(PATH + "/config/zone/%d" % len(self.state.permanent))

    @dbus.service.method(NAME + ".config", in_signature="sa{sv}", out_signature="o")
    def addPolicy(self, policy, settings):
        plain = {str(k): (str(v) if isinstance(v, dbus.String) else [str(x) for x in v]) for k, v in settings.items()}
        self.state.record("addPolicy", policy, plain)
        if policy in self.state.policies:
            raise FirewallError("NAME_CONFLICT: new_policy_object(): '%s'" % policy)
        self.state.policies[str(policy)] = plain
        self.state.save()
        return dbus.ObjectPath(PATH + "/config/policy/%d" % len(self.state.policies))


def main():
    address, path = sys.argv[1], sys.argv[2]
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    state = State(path)
    fw = Firewalld(bus, state)
    Config(bus, state)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, lambda: fw.do_reload() or True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR2,
                         lambda: state.permanent.pop("docker", None) and fw.do_reload() or True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    name = dbus.service.BusName(NAME, bus)  # owned from here on: berthd may call
    state.save()  # the test waits for this file
    loop.run()
    del name


if __name__ == "__main__":
    main()

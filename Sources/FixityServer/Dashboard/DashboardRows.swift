import Mustache

// The values pages repeat hundreds of times (a row per host, per ledger entry, per file) name
// their fields to the templates directly: the template engine's default is to reflect over
// every value for every field it looks up, which took 100 ms for an environment of 500 hosts.

extension ShownDigest: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "short": short
        case "full": full
        case "link": link
        // Answered even when absent: a nil would climb to the row around it (a host's `name`).
        case "name": self.name ?? ""
        case "named": self.name != nil
        default: nil
        }
    }
}

extension Moment: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "iso": iso
        case "utc": utc
        case "relative": relative
        default: nil
        }
    }
}

extension HostStates.Count: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "state": state
        case "count": count
        case "zero": zero
        default: nil
        }
    }
}

extension DetailPair: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "key": key
        case "value": value
        default: nil
        }
    }
}

extension DashboardFleetPages.Environment.Host: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "name": self.name
        case "state": state
        case "release": release
        case "lastReport": lastReport
        case "drift": drift
        case "detail": detail
        default: nil
        }
    }
}

extension DashboardLedgerPages.Row: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "seq": seq
        case "at": at
        case "action": action
        case "subject": subject
        case "details": details
        default: nil
        }
    }
}

extension DashboardReleasePage.Entry: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "name": self.name
        case "path": path
        case "type": type
        case "folder": folder
        case "mode": mode
        case "size": size
        case "digest": digest
        case "target": target
        default: nil
        }
    }
}

extension DashboardReleasePage.Sighting: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "host": host
        case "env": env
        case "first": first
        case "last": last
        case "reports": reports
        default: nil
        }
    }
}

extension DashboardReleasePage.Promotion: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "env": env
        case "at": at
        case "key": key
        case "seq": seq
        default: nil
        }
    }
}

extension DashboardReleasePage.Change: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "sign": sign
        case "kind": kind
        case "path": path
        default: nil
        }
    }
}

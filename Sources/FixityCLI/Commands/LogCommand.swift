import ArgumentParser
import FixityLedger
import FixityStore

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "The history of state changes.")

    @Option(help: "Start at this sequence number.")
    var since: Int64 = 0

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable { let entries: [HistoryEvent] }

    func run() throws {
        try runReportingFailures {
            let events = try global.openStore().history(since: since)
            if global.json {
                try Output.json(Result(entries: events))
                return
            }
            let rows = events.map { event in
                [String(event.seq), String(event.time.prefix(19)) + "Z", event.actor, event.action, event.subject,
                 event.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
            }
            if !rows.isEmpty { Output.line(Output.table(rows)) }
        }
    }
}

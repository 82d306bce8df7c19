import FixityCore
import Foundation

/// stdout for results, stderr for everything else. Human output carries text a release or a
/// host controls (health check output, commands, file names, symlink targets): its control
/// characters are shown escaped, never sent raw to a terminal (an escape sequence could rewrite
/// what the operator sees or program the terminal). JSON is escaped by its encoder.
enum Output {
    static func line(_ text: String) {
        StandardStream.output.write(TerminalText.escaped(text) + "\n")
    }

    static func note(_ text: String) {
        StandardStream.error.write(TerminalText.escaped(text) + "\n")
    }

    /// One JSON document: sorted keys, so output is stable for scripts and diffs.
    static func json<T: Encodable>(_ value: T) throws {
        StandardStream.output.write(try JSONStyle.pretty.encoder().encode(value))
        StandardStream.output.write(Data("\n".utf8))
    }

    static func bytes(_ count: some BinaryInteger) -> String {
        let value = Double(count)
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = value
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", scaled, units[unit])
    }

    /// Left-aligned columns for human tables.
    static func table(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

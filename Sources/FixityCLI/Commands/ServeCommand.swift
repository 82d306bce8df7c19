import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity serve`: the control plane. Prints `listening on URL` on stdout once it accepts
/// connections (with `--listen 127.0.0.1:0`, the port it was given), logs to stderr, and on
/// SIGTERM or SIGINT stops accepting, finishes requests in flight, and exits 0.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the control plane: releases, tags and the ledger over HTTP, behind API keys.",
        discussion: """
            The data folder is an ordinary store (made on first use); make the first key with \
            `fixity server key create --data DIR`. Without --tls-cert/--tls-key the server listens on loopback \
            only unless --insecure-listen is given. The API is docs/api.yaml (also GET /openapi.yaml).
            """)

    @Option(help: "The server's data folder: blobs, database, ledger.") var data: String
    @Option(help: "HOST:PORT to listen on (port 0: any free port, printed).") var listen = "127.0.0.1:8440"
    @Option(help: "A PEM certificate chain: serve HTTPS.") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Flag(help: "Serve plain HTTP on a non-loopback address (keys then cross the network in clear text).")
    var insecureListen = false
    @Option(help: "postgres://USER[:PASSWORD]@HOST[:PORT]/DB: metadata and ledger in PostgreSQL, for replicas.")
    var database: String?
    @Option(help: "A key file to sign ledger checkpoints with (GET /v1/ledger/checkpoint), for auditors to keep.")
    var checkpointKey: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func run() throws {
        try runReportingFailures {
            let postgres = try database.map { try PostgresURL($0) }
            let settings = try ServerSettings(
                listen: listen, tlsCertificate: tlsCert, tlsKey: tlsKey, insecureListen: insecureListen,
                checkpointKey: try checkpointKey.map(KeyFiles.load))
            let logger = try ControlPlaneServer.makeLogger(level: logLevel)
            let server = try ControlPlaneServer(
                dataFolder: data, database: postgres, settings: settings, logger: logger)
            try waitFor {
                try await server.run { url in
                    print("listening on \(url)")
                    fflush(nil)
                }
            }
        }
    }
}

import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Builds the PostgreSQL client of a process and turns its errors into lines an operator can act on.
public enum Database {
    /// A pool for the configured database. Run it (`run()`) as a service before use. Its open and
    /// leased connections are reported as the gauges `tack_postgres_connections_open` and
    /// `tack_postgres_connections_in_use`.
    public static func makeClient(_ config: TackConfiguration.Database, logger: Logger) -> PostgresClient {
        let tls: PostgresClient.Configuration.TLS
        switch config.tls {
        case "require": tls = .require(.makeClientConfiguration())
        case "prefer": tls = .prefer(.makeClientConfiguration())
        default: tls = .disable
        }
        var configuration = PostgresClient.Configuration(
            host: config.host,
            port: config.port,
            username: config.username,
            password: config.password,
            database: config.database,
            tls: tls
        )
        configuration.options.maximumConnections = config.poolSize
        configuration.options.connectTimeout = config.connectTimeout
        configuration.options.additionalStartupParameters = startupParameters(config)
        limits = Limits(acquireTimeout: config.acquireTimeout, statementTimeout: config.statementTimeout)
        var background = logger
        background.handler = PoolUseLogHandler(upstream: logger.handler)
        return PostgresClient(configuration: configuration, backgroundLogger: background)
    }

    /// A one-line reason for a database error, without query text or bound values.
    public static func reason(_ error: any Error) -> String {
        if error is DeadlineExceeded { return "no answer in time" }
        if let error = error as? DatabaseBusy { return error.description }
        if let error = error as? DatabaseCallOverran { return error.description }
        if let error = error as? DatabaseReadOnly { return error.description }
        if let tx = error as? PostgresTransactionError {
            if let inner = tx.closureError ?? tx.beginError ?? tx.commitError ?? tx.rollbackError { return reason(inner) }
        }
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                var text = message
                if let state = psql.serverInfo?[.sqlState] { text += " (SQLSTATE \(state))" }
                return text
            }
            if let underlying = psql.underlying { return reason(underlying) }
            switch psql.code {
            case .connectionError: return "connection failed"
            case .serverClosedConnection: return "the server closed the connection"
            case .poolClosed: return "the connection pool is closed"
            default: return "\(psql.code)"
            }
        }
        if let io = error as? IOError { return io.description }
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "connect timeout" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    /// Checks PostgreSQL answers, returning its `server_version`.
    public static func serverVersion(_ client: PostgresClient, timeout: Duration, logger: Logger) async throws -> String {
        try await withDeadline(timeout) {
            let rows = try await client.query("SHOW server_version", logger: logger)
            for try await (version) in rows.decode(String.self) { return version }
            return "unknown"
        }
    }
}

import Foundation
import Hummingbird
import Logging
import PostgresNIO
import TackCore
import TackRedis

/// `/healthz` (the process answers) and `/readyz` (it can serve: PostgreSQL, Redis, schema current),
/// for load balancers and orchestrators.
struct HealthController: Sendable {
    /// One dependency's state in `/readyz`.
    struct Check: Codable, Sendable {
        var ok: Bool
        var error: String?
    }

    /// The `/readyz` body.
    struct Readiness: ResponseEncodable, Sendable {
        var status: String
        var checks: [String: Check]
    }

    /// The `/healthz` body.
    struct Liveness: ResponseEncodable, Sendable {
        var status: String
        var version: String
    }

    let deps: WebDependencies
    let logger: Logger

    func addRoutes(to router: Router<TackRequestContext>) {
        router.get("/healthz") { _, _ in Liveness(status: "ok", version: TackVersion.current) }
        router.get("/readyz") { _, _ in try await readiness() }
    }

    func readiness() async throws -> EditedResponse<Readiness> {
        async let postgres = check { [deps, logger] in
            _ = try await Database.serverVersion(deps.postgres, timeout: .seconds(2), logger: logger)
        }
        async let redis = check { [deps] in
            try await withDeadline(.seconds(2)) { try await deps.redis.ping() }
        }
        async let schema = check { [deps, logger] in
            try await withDeadline(.seconds(2)) {
                try await Migrator(client: deps.postgres, migrations: deps.migrations, logger: logger).requireCurrent()
            }
        }
        let checks = ["postgres": await postgres, "redis": await redis, "schema": await schema]
        let ready = checks.values.allSatisfy(\.ok)
        return EditedResponse(
            status: ready ? .ok : .serviceUnavailable,
            response: Readiness(status: ready ? "ready" : "not_ready", checks: checks)
        )
    }

    /// Runs one probe; the error text is a fixed phrase, never the server's words.
    private func check(_ probe: @escaping @Sendable () async throws -> Void) async -> Check {
        do {
            try await probe()
            return Check(ok: true)
        } catch let error as TackError where error.code == .schemaMismatch {
            return Check(ok: false, error: "schema not current")
        } catch is DeadlineExceeded {
            return Check(ok: false, error: "timeout")
        } catch {
            logger.debug("readiness probe failed", metadata: ["tack.error": "\(error)"])
            return Check(ok: false, error: "unavailable")
        }
    }
}

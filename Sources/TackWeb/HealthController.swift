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

    let postgres: PostgresClient
    let redis: RedisClient
    /// The migrations this release ships: the schema is current when all are applied.
    let migrations: [Migration]

    func addRoutes(to router: Router<TackRequestContext>) {
        router.get("/healthz", use: liveness)
        router.get("/readyz", use: readiness)
    }

    @Sendable func liveness(_ request: Request, context: TackRequestContext) -> Liveness {
        Liveness(status: "ok", version: TackVersion.current)
    }

    @Sendable func readiness(_ request: Request, context: TackRequestContext) async throws -> EditedResponse<Readiness> {
        let logger = context.logger
        async let postgresCheck = check(logger) { [postgres] in
            _ = try await Database.serverVersion(postgres, timeout: .seconds(2), logger: logger)
        }
        async let redisCheck = check(logger) { [redis] in
            try await withDeadline(.seconds(2)) { try await redis.ping() }
        }
        async let schemaCheck = check(logger) { [postgres, migrations] in
            try await withDeadline(.seconds(2)) {
                try await Migrator(client: postgres, migrations: migrations, logger: logger).requireCurrent()
            }
        }
        let checks = ["postgres": await postgresCheck, "redis": await redisCheck, "schema": await schemaCheck]
        let ready = checks.values.allSatisfy(\.ok)
        return EditedResponse(
            status: ready ? .ok : .serviceUnavailable,
            response: Readiness(status: ready ? "ready" : "not_ready", checks: checks)
        )
    }

    /// Runs one probe; the error text is a fixed phrase, never the server's words.
    private func check(_ logger: Logger, _ probe: @escaping @Sendable () async throws -> Void) async -> Check {
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

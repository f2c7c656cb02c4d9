import Foundation
import Hummingbird
import Logging
import TackCore
import TackRedis

/// Builds the push role's HTTP application for `run push` and for tests.
///
/// This release serves `/push/healthz`; the WebSocket and SSE endpoints, fan-out and resume
/// come with the push role's own work.
public func buildPushApplication(config: TackConfiguration, redis: RedisClient, logger: Logger) -> some ApplicationProtocol {
    let router = Router()
    router.get("/push/healthz") { _, _ -> String in
        "ok"
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(config.push.host, port: config.push.port), serverName: "Tack push"),
        logger: logger
    )
}

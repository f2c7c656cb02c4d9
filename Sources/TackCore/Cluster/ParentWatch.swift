import Foundation
import Logging
import ServiceLifecycle

/// Ends a role process whose process manager (`./platform run`) died: when the parent process id
/// changes (the orphan was adopted by init), the service returns, which shuts its `ServiceGroup`
/// down gracefully. So a `kill -9` of the manager never leaves role processes running unsupervised.
public struct ParentWatch: Service {
    let parent: Int32
    let interval: Duration
    let logger: Logger

    /// Watches for `parent` to stop being this process's parent.
    public init(parent: Int32, interval: Duration = .milliseconds(500), logger: Logger) {
        self.parent = parent
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if getppid() != parent {
                logger.warning("the process manager that started this process is gone; stopping", metadata: ["tack.parent.pid": "\(parent)"])
                return
            }
            try? await gracefulShutdownOrSleep(interval)
        }
    }
}

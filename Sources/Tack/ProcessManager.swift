import Foundation
import Logging
import Synchronization
import TackCore

/// Runs a whole node (`run` with no role): every role as a child process, logs prefixed,
/// crashed children restarted with backoff, SIGTERM/SIGINT forwarded, clean exit.
///
/// For single-machine installs and development; in production supervisord plays this part.
final class ProcessManager: Sendable {
    /// One managed child.
    struct Slot: Sendable {
        let name: String  // "web.1"
        let arguments: [String]
    }

    struct ChildState {
        var process: Process?
        var startedAt = Date()
        var failures = 0
        var lineBuffer = Data()
    }

    let config: TackConfiguration
    let slots: [Slot]
    let logger = Logger(label: "tack.manager")
    let state = Mutex<(children: [String: ChildState], stopping: Bool)>(([:], false))
    let output = Mutex<Void>(())
    /// Per-process log files under node.log_dir, beside the prefixed console output.
    let logFiles: [String: FileHandle]
    let allStopped: AsyncStream<Void>
    let allStoppedContinuation: AsyncStream<Void>.Continuation

    init(config: TackConfiguration, configPath: String, overrides: [String], webScale: Int, workerScale: Int, queues: String?) {
        self.config = config
        // Children watch this pid and stop if the manager dies (even by SIGKILL).
        let common = ["--config", configPath, "--parent-pid", String(getpid())] + overrides.flatMap { ["--set", $0] }
        var slots: [Slot] = []
        for i in 0..<webScale {
            slots.append(Slot(name: "web.\(i + 1)", arguments: ["run", "web"] + common + ["--set", "web.port=\(config.web.port + i)"]))
        }
        for i in 0..<workerScale {
            slots.append(Slot(name: "worker.\(i + 1)", arguments: ["run", "worker"] + common + (queues.map { ["--queues", $0] } ?? [])))
        }
        slots.append(Slot(name: "scheduler.1", arguments: ["run", "scheduler"] + common))
        slots.append(Slot(name: "push.1", arguments: ["run", "push"] + common))
        self.slots = slots
        try? FileManager.default.createDirectory(atPath: config.node.logDirectory, withIntermediateDirectories: true)
        var files: [String: FileHandle] = [:]
        for slot in slots {
            let path = (config.node.logDirectory as NSString).appendingPathComponent("tack-\(slot.name.replacingOccurrences(of: ".", with: "-")).log")
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o640)
            if fd >= 0 { files[slot.name] = FileHandle(fileDescriptor: fd, closeOnDealloc: true) }
        }
        logFiles = files
        (allStopped, allStoppedContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    func run() async throws {
        // Fail once, clearly, rather than restart-looping children that would all refuse to start.
        try await Clients.preflight(config, logger: Logger(label: "tack.manager.preflight"))
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { [self] in self.stop(reason: number == SIGTERM ? "SIGTERM" : "SIGINT") }
            source.resume()
            return source
        }
        logger.info("starting node", metadata: ["tack.node": "\(config.nodeName)", "tack.processes": "\(slots.map(\.name).joined(separator: " "))"])
        for slot in slots { start(slot) }
        for await _ in allStopped { break }
        for signal in signals { signal.cancel() }
        logger.info("node stopped")
    }

    private func start(_ slot: Slot) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConfigOptions.executablePath)
        process.arguments = slot.arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                flush(slot.name)
            } else {
                emit(slot.name, data)
            }
        }
        process.terminationHandler = { [self] finished in
            self.exited(slot, status: finished.terminationStatus, reason: finished.terminationReason)
        }
        let launched: Bool = state.withLock { state in
            if state.stopping { return false }
            do {
                try process.run()
            } catch {
                return false
            }
            var child = state.children[slot.name] ?? ChildState()
            child.process = process
            child.startedAt = Date()
            state.children[slot.name] = child
            return true
        }
        if launched {
            logger.info("started", metadata: ["tack.process": "\(slot.name)", "tack.pid": "\(process.processIdentifier)"])
        }
    }

    private func exited(_ slot: Slot, status: Int32, reason: Process.TerminationReason) {
        let how = reason == .uncaughtSignal ? "killed by signal \(status)" : "exited with status \(status)"
        let decision: (restart: Bool, delay: Int, done: Bool) = state.withLock { state in
            var child = state.children[slot.name] ?? ChildState()
            child.process = nil
            if state.stopping {
                state.children[slot.name] = child
                return (false, 0, state.children.values.allSatisfy { $0.process == nil })
            }
            // A child that ran a while before dying starts its backoff again from 1 s.
            if Date().timeIntervalSince(child.startedAt) > 30 { child.failures = 0 }
            child.failures += 1
            state.children[slot.name] = child
            let seconds = min(30, 1 << min(child.failures - 1, 5))
            return (true, seconds, false)
        }
        if decision.done {
            allStoppedContinuation.yield()
            return
        }
        guard decision.restart else { return }
        logger.warning("process \(how); restarting", metadata: ["tack.process": "\(slot.name)", "tack.restart.delay": "\(decision.delay)s"])
        // Process callbacks arrive on Foundation's threads; a timer there, not a parentless task.
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(decision.delay)) { [self] in
            self.start(slot)
        }
    }

    private func stop(reason: String) {
        let (first, running): (Bool, [Process]) = state.withLock { state in
            if state.stopping { return (false, []) }
            state.stopping = true
            return (true, state.children.values.compactMap(\.process))
        }
        guard first else { return }
        logger.info("stopping node", metadata: ["tack.signal": "\(reason)", "tack.processes": "\(running.count)"])
        if running.isEmpty {
            allStoppedContinuation.yield()
            return
        }
        for process in running where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        // Children get the same bound they have under supervisord; then they are killed.
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(15)) { [self] in
            let stragglers = state.withLock { $0.children.values.compactMap(\.process) }
            for process in stragglers where process.isRunning {
                logger.warning("process did not stop in time; killing it", metadata: ["tack.pid": "\(process.processIdentifier)"])
                kill(process.processIdentifier, SIGKILL)
            }
        }
    }

    /// Writes complete lines with the child's prefix; keeps a partial line for the next chunk.
    private func emit(_ name: String, _ data: Data) {
        let lines: [Data] = state.withLock { state in
            var child = state.children[name] ?? ChildState()
            child.lineBuffer.append(data)
            var lines: [Data] = []
            while let newline = child.lineBuffer.firstIndex(of: 0x0A) {
                lines.append(child.lineBuffer[child.lineBuffer.startIndex..<newline])
                child.lineBuffer.removeSubrange(child.lineBuffer.startIndex...newline)
            }
            state.children[name] = child
            return lines
        }
        write(name, lines)
    }

    private func flush(_ name: String) {
        let rest: Data = state.withLock { state in
            let rest = state.children[name]?.lineBuffer ?? Data()
            state.children[name]?.lineBuffer = Data()
            return rest
        }
        if !rest.isEmpty { write(name, [rest]) }
    }

    private func write(_ name: String, _ lines: [Data]) {
        guard !lines.isEmpty else { return }
        let prefix = Data(name.padding(toLength: 12, withPad: " ", startingAt: 0).utf8) + Data("| ".utf8)
        var out = Data()
        var plain = Data()
        for line in lines {
            out += prefix + line + Data([0x0A])
            plain += line + Data([0x0A])
        }
        output.withLock { _ in
            try? FileHandle.standardOutput.write(contentsOf: out)
            logFiles[name]?.write(plain)
        }
    }
}

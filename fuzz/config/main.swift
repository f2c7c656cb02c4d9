// libFuzzer target: ConfigLoader, the reader of config.yml (through Yams and its libyaml C
// parser, which is compiled with the fuzzer's instrumentation too) and of TACK_* / --set values.
//
// The input is the file's text. Properties: every refusal is a TackError with code
// invalid_config whose subject names the file (operators see "file:line: key: what"); a file the
// loader reads either builds a TackConfiguration or is refused the same way (naming the key); every scalar value
// the file set, rendered by ConfigRenderer (which writes config-prod.yml.example and gen_config's
// files) and read back, is the same value. The same text is also parsed as the environment value
// of one key (chosen from the input's hash): a refusal names the variable, never echoes a secret.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        checkEnvironmentValue(text, key: ConfigSchema.keys[Int(hash % UInt64(ConfigSchema.keys.count))])

        var values: [String: ConfigValue] = [:]
        for key in ConfigSchema.keys { values[key.path] = key.defaultValue }
        var origins: [String: ConfigLoader.Origin] = [:]
        do {
            try ConfigLoader.readYAML(text, file: "fuzz.yml", into: &values, origins: &origins)
        } catch {
            expectRefusal(error, naming: "fuzz.yml")
            return
        }
        do {
            _ = try TackConfiguration(values: values, origins: origins, rootDirectory: "/srv/tack", sourceFile: "fuzz.yml")
        } catch {
            expectRefusal(error, naming: "")  // a key left at its default (a missing secret) is named without the file
        }
        // Render what the file set, section by section, and read it back.
        var sections: [String: [(name: String, value: String)]] = [:]
        for path in origins.keys.sorted() {
            guard let value = values[path], ConfigSchema.keysByPath[path] != nil else { continue }
            if case .map = value { continue }  // maps (queues, scheduler.jobs) render unquoted: only the defaults, {}, are rendered
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            let section = parts.count == 2 ? parts[0] : ""
            sections[section, default: []].append((parts.last!, ConfigRenderer.render(value)))
        }
        var rendered = ""
        for (section, entries) in sections.sorted(by: { $0.key < $1.key }) {
            if !section.isEmpty { rendered += "\(section):\n" }
            for entry in entries { rendered += (section.isEmpty ? "" : "  ") + "\(entry.name): \(entry.value)\n" }
        }
        var again: [String: ConfigValue] = [:]
        var againOrigins: [String: ConfigLoader.Origin] = [:]
        do {
            try ConfigLoader.readYAML(rendered, file: "rendered.yml", into: &again, origins: &againOrigins)
        } catch {
            fuzzFail("the rendered values do not load: \(error)\n\(rendered)")
        }
        for (path, value) in again {
            fuzzExpect(values[path] == value, "\(path) was \(fuzzShow(values[path])), rendered and read back it is \(fuzzShow(value))")
        }
    }
}

/// A refusal must be `invalid_config` and say which file (or variable) it is about.
func expectRefusal(_ error: any Error, naming source: String) {
    guard let error = error as? TackError else { fuzzFail("not a TackError: \(error)") }
    fuzzExpect(error.code.rawValue == "invalid_config", "code \(error.code) for \(error)")
    fuzzExpect(error.subject.map { !$0.isEmpty && $0.hasPrefix(source) } == true, "the refusal does not name \(source): \(error)")
    fuzzExpect(!error.message.isEmpty, "an empty message")
}

func checkEnvironmentValue(_ text: String, key: ConfigSchema.Key) {
    do {
        _ = try ConfigLoader.parse(text: text, key: key, subject: key.environmentName)
    } catch {
        expectRefusal(error, naming: key.environmentName)
        if case .secret = key.kind, text.count >= 8 {
            fuzzExpect(!"\(error)".contains(text), "a refused secret is echoed: \(error)")
        }
    }
}

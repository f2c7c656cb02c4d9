// libFuzzer target: SQLStatements.split, the migration statement splitter.
//
// Migrations are files in the repository, but the splitter must never crash, hang or lose text
// on whatever an operator or a bad merge puts there. Properties: every statement is non-empty
// and trimmed; statements are substrings of the file, in order; splitting the statements joined
// again gives the same statements (no statement holds a top-level `;`); and, for text without
// comments, the only characters dropped are whitespace and `;` (all other text is preserved).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSQL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzRun(data, size) { bytes in
        let sql = String(decoding: bytes, as: UTF8.self)
        let statements = SQLStatements.split(sql)
        let scalars = Array(sql.unicodeScalars)
        var searchFrom = 0
        for statement in statements {
            let s = Array(statement.unicodeScalars)
            fuzzExpect(!s.isEmpty, "an empty statement")
            fuzzExpect(!s.first!.properties.isWhitespace && !s.last!.properties.isWhitespace, "untrimmed \(fuzzShow(statement))")
            guard let found = find(s, in: scalars, from: searchFrom) else {
                fuzzFail("statement \(fuzzShow(statement)) is not in the file after offset \(searchFrom)")
            }
            searchFrom = found + s.count
        }
        let rejoined = SQLStatements.split(statements.joined(separator: "\n;\n"))
        fuzzExpect(rejoined == statements, "split(join(split(x))) != split(x): \(fuzzShow(statements)) became \(fuzzShow(rejoined))")
        if !containsScalars(scalars, "--") && !containsScalars(scalars, "/*") {
            var dropped: [Unicode.Scalar: Int] = [:]
            for c in scalars where !c.properties.isWhitespace { dropped[c, default: 0] += 1 }
            for statement in statements {
                for c in statement.unicodeScalars where !c.properties.isWhitespace { dropped[c, default: 0] -= 1 }
            }
            for (c, count) in dropped where count != 0 {
                fuzzExpect(c == ";" && count > 0, "text lost or invented: \(count) × U+\(String(c.value, radix: 16))")
            }
        }
    }
}

private func find(_ needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    var i = start
    while i + needle.count <= haystack.count {
        if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

/// Searches scalars, not characters: "-" followed by "-" and a combining mark is one Character
/// ("-\u{5AB}") to String.contains, yet a comment to PostgreSQL and the splitter.
private func containsScalars(_ haystack: [Unicode.Scalar], _ needle: String) -> Bool {
    find(Array(needle.unicodeScalars), in: haystack, from: 0) != nil
}

import Foundation

/// Splits a migration file into single statements.
///
/// postgres-nio speaks only the extended query protocol, which takes one statement per message,
/// so a multi-statement file is split here and run statement by statement inside one transaction.
/// The splitter knows what can hide a `;`: quoted strings (with `''` and, in `E'…'`, backslash
/// escapes), quoted identifiers, `--` and nested `/* */` comments, and `$tag$…$tag$` bodies.
enum SQLStatements {
    static func split(_ sql: String) -> [String] {
        let chars = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        var hasContent = false

        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if hasContent && !text.isEmpty { statements.append(text) }
            current = String.UnicodeScalarView()
            hasContent = false
        }
        func peek(_ offset: Int) -> Unicode.Scalar? { i + offset < chars.count ? chars[i + offset] : nil }

        while i < chars.count {
            let c = chars[i]
            if c == "-" && peek(1) == "-" {
                while i < chars.count && chars[i] != "\n" {
                    current.append(chars[i])
                    i += 1
                }
                continue
            }
            if c == "/" && peek(1) == "*" {
                var depth = 0
                repeat {
                    if chars[i] == "/" && peek(1) == "*" {
                        depth += 1
                        current.append("/")
                        current.append("*")
                        i += 2
                        continue
                    }
                    if chars[i] == "*" && peek(1) == "/" {
                        depth -= 1
                        current.append("*")
                        current.append("/")
                        i += 2
                        continue
                    }
                    current.append(chars[i])
                    i += 1
                } while depth > 0 && i < chars.count
                continue
            }
            if c == "'" || c == "\"" {
                let backslashEscapes =
                    c == "'" && i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e")
                    && (i < 2 || !isIdentifierScalar(chars[i - 2]))
                hasContent = true
                current.append(c)
                i += 1
                while i < chars.count {
                    let d = chars[i]
                    current.append(d)
                    i += 1
                    if backslashEscapes && d == "\\" && i < chars.count {
                        current.append(chars[i])
                        i += 1
                        continue
                    }
                    if d == c {
                        if i < chars.count && chars[i] == c {
                            current.append(chars[i])
                            i += 1
                            continue
                        }
                        break
                    }
                }
                continue
            }
            if c == "$", let tag = dollarTag(chars, at: i) {
                hasContent = true
                for s in tag { current.append(s) }
                i += tag.count
                while i < chars.count {
                    if chars[i] == "$", i + tag.count <= chars.count, Array(chars[i..<(i + tag.count)]) == tag {
                        for s in tag { current.append(s) }
                        i += tag.count
                        break
                    }
                    current.append(chars[i])
                    i += 1
                }
                continue
            }
            if c == ";" {
                flush()
                i += 1
                continue
            }
            if !c.properties.isWhitespace { hasContent = true }
            current.append(c)
            i += 1
        }
        flush()
        return statements
    }

    /// `$$` or `$name$` starting at `index`, unless the `$` continues an identifier or is a parameter (`$1`).
    private static func dollarTag(_ chars: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        if index > 0 && isIdentifierScalar(chars[index - 1]) { return nil }
        var j = index + 1
        if j < chars.count, chars[j].properties.numericType != nil { return nil }
        while j < chars.count && chars[j] != "$" {
            guard isIdentifierScalar(chars[j]) else { return nil }
            j += 1
        }
        guard j < chars.count else { return nil }
        return Array(chars[index...j])
    }

    private static func isIdentifierScalar(_ s: Unicode.Scalar) -> Bool {
        s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
    }
}

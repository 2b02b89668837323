/// A fast reader for `vocab.json`: one JSON object of string keys and integer values.
///
/// Foundation's `JSONDecoder` takes about 0.36 s for CLIP's 49 408 entries on the machines
/// sdcluster targets, more than everything else in loading a tokenizer; this reader works on
/// the bytes directly. It returns nil for anything outside that shape (a non-integer value,
/// malformed JSON, raw control characters in a string), and the caller then falls back to
/// `JSONDecoder`, which reports the error precisely. Duplicate keys keep the last value, as
/// Python's `json` does.
enum VocabularyParser {
    static func parse(_ bytes: [UInt8]) -> [String: Int]? {
        var parser = Cursor(bytes: bytes)
        return parser.object()
    }

    private struct Cursor {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func object() -> [String: Int]? {
            var result: [String: Int] = [:]
            result.reserveCapacity(bytes.count / 16)
            guard consume(UInt8(ascii: "{")) else { return nil }
            if consume(UInt8(ascii: "}")) { return atEnd() ? result : nil }
            repeat {
                guard let key = string(), consume(UInt8(ascii: ":")), let value = integer() else { return nil }
                result[key] = value
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { return nil }
            return atEnd() ? result : nil
        }

        /// Skips white space, then takes `byte` if it comes next.
        mutating func consume(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func atEnd() -> Bool {
            skipWhitespace()
            return index == bytes.count
        }

        mutating func integer() -> Int? {
            skipWhitespace()
            let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            var value = 0
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                let (product, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = product.addingReportingOverflow(Int(bytes[index] - 0x30))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            // No digits, a leading zero, or a fraction / exponent: leave it to JSONDecoder.
            guard index > start, index - start == 1 || bytes[start] != 0x30 else { return nil }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") {
                return nil
            }
            return negative ? -value : value
        }

        /// A JSON string; the common case (no escapes) is decoded straight from the bytes.
        mutating func string() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
                guard bytes[index] >= 0x20 else { return nil }
                index += 1
            }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                index += 1
                return String(validating: bytes[start..<(index - 1)], as: UTF8.self)
            }
            var utf8 = Array(bytes[start..<index])
            guard escapedRest(into: &utf8) else { return nil }
            return String(validating: utf8, as: UTF8.self)
        }

        /// The rest of a string holding escapes, from the first backslash to the closing quote.
        mutating func escapedRest(into utf8: inout [UInt8]) -> Bool {
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return true
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return false }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return false }
                        utf8.append(contentsOf: UTF8.encode(scalar)!)
                    default: return false
                    }
                default:
                    guard byte >= 0x20 else { return false }
                    utf8.append(byte)
                }
            }
            return false
        }

        /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let first = hex4() else { return nil }
            if (0xD800..<0xDC00).contains(first) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { return nil }
                index += 2
                guard let second = hex4(), (0xDC00..<0xE000).contains(second) else { return nil }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            return Unicode.Scalar(first)  // nil for a lone low surrogate
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt32 = 0
            for byte in bytes[index..<(index + 4)] {
                guard let digit = Int(String(UnicodeScalar(byte)), radix: 16) else { return nil }
                value = value * 16 + UInt32(digit)
            }
            index += 4
            return value
        }
    }
}

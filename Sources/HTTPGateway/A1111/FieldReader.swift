import Foundation

/// One problem with one field of a JSON body, as FastAPI reports it in a 422 answer
/// (`{"detail": [{"type", "loc", "msg", "input"}]}`): what A1111 clients know how to show.
struct FieldProblem: Error, Sendable, Equatable {
    var type: String
    /// The path of the field, after `"body"`: `["steps"]`, `["override_settings", "sd_model_checkpoint"]`.
    var location: [String]
    var message: String
    /// The offending value as JSON text, when there was one.
    var input: String?

    var json: [String: Any] {
        var object: [String: Any] = ["type": type, "loc": ["body"] + location, "msg": message]
        if let input { object["input"] = input }
        return object
    }
}

/// Every problem found in one body.
struct FieldProblems: Error {
    var all: [FieldProblem]
}

/// Reads the fields of a JSON object the way pydantic's lax mode does for A1111's models: every
/// field optional (absent or null: the default), integers also from integral floats and numeric
/// strings, floats from numbers or numeric strings, booleans from true/false, 0/1 and their
/// strings. Problems are collected, not thrown one by one, so a 422 names every bad field.
struct FieldReader {
    let object: [String: Any]
    let path: [String]
    private(set) var problems: [FieldProblem] = []

    init(_ object: [String: Any], path: [String] = []) {
        self.object = object
        self.path = path
    }

    private func present(_ key: String) -> Any? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    mutating func int(_ key: String, default value: Int) -> Int {
        guard let raw = present(key) else { return value }
        if let number = raw as? NSNumber, !Self.isBool(number) {
            let double = number.doubleValue
            if double == double.rounded(), abs(double) < 9.0e18 { return Int(double) }
            problem(key, "int_from_float", "Input should be a valid integer, got a number with a fractional part", raw)
        } else if let text = raw as? String {
            if let parsed = Int(text.trimmingCharacters(in: .whitespaces)) { return parsed }
            problem(key, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", raw)
        } else {
            problem(key, "int_type", "Input should be a valid integer", raw)
        }
        return value
    }

    mutating func double(_ key: String, default value: Double) -> Double {
        guard let raw = present(key) else { return value }
        if let number = raw as? NSNumber, !Self.isBool(number) { return number.doubleValue }
        if let text = raw as? String, let parsed = Double(text.trimmingCharacters(in: .whitespaces)) { return parsed }
        problem(key, raw is String ? "float_parsing" : "float_type", "Input should be a valid number", raw)
        return value
    }

    mutating func string(_ key: String, default value: String?) -> String? {
        guard let raw = present(key) else { return value }
        if let text = raw as? String { return text }
        problem(key, "string_type", "Input should be a valid string", raw)
        return value
    }

    mutating func bool(_ key: String, default value: Bool) -> Bool {
        guard let raw = present(key) else { return value }
        if let number = raw as? NSNumber {
            if Self.isBool(number) || number.doubleValue == 0 || number.doubleValue == 1 { return number.boolValue }
        } else if let text = raw as? String {
            switch text.lowercased() {
            case "true", "1", "yes", "on", "t", "y": return true
            case "false", "0", "no", "off", "f", "n": return false
            default: break
            }
        }
        problem(key, "bool_parsing", "Input should be a valid boolean", raw)
        return value
    }

    mutating func dictionary(_ key: String) -> [String: Any] {
        guard let raw = present(key) else { return [:] }
        if let object = raw as? [String: Any] { return object }
        problem(key, "dict_type", "Input should be a valid dictionary", raw)
        return [:]
    }

    mutating func list(_ key: String) -> [Any] {
        guard let raw = present(key) else { return [] }
        if let list = raw as? [Any] { return list }
        problem(key, "list_type", "Input should be a valid list", raw)
        return []
    }

    /// A value that is well-typed but out of range or unsupported.
    mutating func refuse(_ key: String, _ message: String) {
        problem(key, "value_error", message, object[key])
    }

    /// Adds a problem found by a nested reader (its paths are already complete).
    mutating func adopt(_ others: [FieldProblem]) { problems += others }

    private mutating func problem(_ key: String, _ type: String, _ message: String, _ raw: Any?) {
        problems.append(FieldProblem(type: type, location: path + [key], message: message, input: raw.map(Self.jsonText)))
    }

    /// JSON booleans arrive as NSNumber too; they are not numbers to pydantic.
    static func isBool(_ number: NSNumber) -> Bool {
        // JSONSerialization makes booleans of type "c" (char); JSON numbers are never that.
        String(cString: number.objCType) == "c"
    }

    static func jsonText(_ value: Any) -> String {
        if let text = value as? String { return text }
        guard JSONSerialization.isValidJSONObject([value]),
              let data = try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]) else { return "\(value)" }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}

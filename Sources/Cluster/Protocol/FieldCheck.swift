/// Small checks on decoded header values, throwing `invalidField` with the field's name.
enum Check {
    static func nonEmpty(_ text: String, _ field: String) throws {
        if text.isEmpty { throw ProtocolError.invalidField(field, reason: "must not be empty") }
    }

    static func range<T: Comparable>(_ value: T, _ bounds: ClosedRange<T>, _ field: String) throws {
        if !bounds.contains(value) {
            throw ProtocolError.invalidField(field, reason: "\(value) is outside \(bounds.lowerBound)...\(bounds.upperBound)")
        }
    }

    static func finite(_ value: Float, _ field: String) throws {
        if !value.isFinite { throw ProtocolError.invalidField(field, reason: "must be a finite number") }
    }

    static func seconds(_ value: Double, _ field: String) throws {
        if !value.isFinite || value < 0 {
            throw ProtocolError.invalidField(field, reason: "must be a finite number of seconds >= 0")
        }
    }
}

/// Keeps a flood of one kind of message (a peer sending garbage thousands of times a second)
/// to one log line per kind and window, with a count of what was held back.
struct LogLimiter {
    let window: Double
    private var kinds: [String: (since: Double, held: Int)] = [:]

    init(window: Double = 10) { self.window = window }

    /// Whether to log a message of `kind` now and, if so, how many of its kind were held back
    /// since the last one logged (to say "and N more").
    mutating func admit(_ kind: String, at now: Double) -> (log: Bool, held: Int) {
        if let entry = kinds[kind], now - entry.since < window {
            kinds[kind] = (entry.since, entry.held + 1)
            return (false, 0)
        }
        let held = kinds[kind]?.held ?? 0
        kinds[kind] = (now, 0)
        if kinds.count > 1000 { kinds = kinds.filter { now - $0.value.since < window } }
        return (true, held)
    }

    /// " (N more like it held back)" for a count above zero.
    static func suffix(_ held: Int) -> String { held > 0 ? " (\(held) more like it in the last seconds, not logged)" : "" }
}

/// Paranoid Pirate bookkeeping for one peer (zguide chapter 4), driven by the caller's clock so
/// that it is exact to test: any message from the peer restores its full liveness; every
/// heartbeat interval of silence costs one; at zero the peer is given up on. It also says when
/// a heartbeat is due to the peer (only when nothing else was sent for an interval).
struct PeerLiveness: Sendable, Equatable {
    /// Seconds between heartbeats.
    let interval: Double
    /// Silent intervals tolerated before the peer is considered dead (zguide: 3-5).
    let liveness: Int
    private(set) var lastHeard: Double
    private(set) var lastSent: Double

    init(interval: Double, liveness: Int, now: Double) {
        precondition(interval > 0 && liveness > 0, "heartbeat interval and liveness must be positive")
        self.interval = interval
        self.liveness = liveness
        lastHeard = now
        lastSent = now
    }

    /// Any message from the peer (not only HEARTBEAT) proves it is alive.
    mutating func heard(at now: Double) { lastHeard = max(lastHeard, now) }

    /// Any message to the peer counts as a heartbeat.
    mutating func sent(at now: Double) { lastSent = max(lastSent, now) }

    /// Liveness left: `liveness` minus the whole intervals of silence, never below 0.
    func remaining(at now: Double) -> Int {
        let silent = Int(((now - lastHeard) / interval).rounded(.down))
        return max(0, liveness - max(0, silent))
    }

    /// False once the peer has been silent for `liveness` intervals.
    func isAlive(at now: Double) -> Bool { remaining(at: now) > 0 }

    /// True when nothing was sent to the peer for an interval: send a HEARTBEAT (then `sent`).
    func heartbeatDue(at now: Double) -> Bool { now - lastSent >= interval }
}

/// Exponential back-off for reconnecting (Paranoid Pirate's worker): each failure doubles the
/// wait up to a ceiling; a success resets it.
struct ReconnectBackoff: Sendable, Equatable {
    let initial: Double
    let maximum: Double
    private(set) var current: Double

    init(initial: Double = 1, maximum: Double = 32) {
        precondition(initial > 0 && maximum >= initial, "back-off needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    /// The delay to wait before the next attempt; the one after will be twice as long.
    mutating func nextDelay() -> Double {
        let delay = current
        current = min(current * 2, maximum)
        return delay
    }

    /// After a successful connection: start again from `initial`.
    mutating func reset() { current = initial }
}

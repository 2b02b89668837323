/// A latency histogram as the coordinator keeps it: counts per bucket (not cumulative), the last
/// bucket for everything above the last bound, with the sum and count of all observations.
public struct LatencyHistogram: Codable, Sendable, Equatable {
    /// Upper bounds in seconds, increasing.
    public var bounds: [Double]
    /// One count per bound, then one for values above the last bound.
    public var counts: [Int]
    public var sum = 0.0
    public var count = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = [Int](repeating: 0, count: bounds.count + 1)
    }

    public mutating func observe(_ seconds: Double) {
        let bucket = bounds.firstIndex { seconds <= $0 } ?? bounds.count
        counts[bucket] += 1
        sum += seconds
        count += 1
    }
}

/// What the coordinator counts since it started, in STATUS-REPLY (`counters`) for `/metrics`.
public struct CoordinatorCounters: Codable, Sendable, Equatable {
    /// Tasks whose work was put back to be sent again: worker lost or retired, deadline missed,
    /// failed or refused result.
    public var tasksResent = 0
    /// Send-to-answer time of each accepted UNet task (one step of one or more images).
    public var unetTaskSeconds = LatencyHistogram(bounds: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60])
    /// Queued-to-written time of each image finished by this coordinator run (an image resumed
    /// after a restart counts from the restart).
    public var imageSeconds = LatencyHistogram(bounds: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600])

    public init() {}
}

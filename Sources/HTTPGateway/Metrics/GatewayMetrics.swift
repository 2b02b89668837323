import Foundation

/// What the gateway itself measures, for `/metrics`: HTTP requests answered and how long
/// txt2img calls took (a Prometheus histogram: cumulative buckets, sum and count).
public final class GatewayMetrics: @unchecked Sendable {
    /// Upper bounds (seconds) of the txt2img latency buckets: a tiny model answers in a
    /// second, SD v1 on CPUs in minutes.
    static let latencyBuckets: [Double] = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800]

    private let lock = NSLock()
    private var bucketCounts = [Int](repeating: 0, count: latencyBuckets.count)
    private var latencySum = 0.0
    private var latencyCount = 0
    private var imagesAnswered = 0
    private var requests: [String: Int] = [:]

    public init() {}

    func observeTxt2Img(seconds: Double, images: Int) {
        lock.withLock {
            for (i, bound) in Self.latencyBuckets.enumerated() where seconds <= bound { bucketCounts[i] += 1 }
            latencySum += seconds
            latencyCount += 1
            imagesAnswered += images
        }
    }

    /// Counts one answered request by its route's family and status (a label set kept small:
    /// paths with ids are grouped under their route).
    func countRequest(route: String, status: Int) {
        lock.withLock { requests["\(route)\u{0}\(status)", default: 0] += 1 }
    }

    struct Snapshot {
        var buckets: [(bound: Double, count: Int)]
        var sum: Double
        var count: Int
        var images: Int
        var requests: [(route: String, status: String, count: Int)]
    }

    func snapshot() -> Snapshot {
        lock.withLock {
            let requestRows = requests.sorted { $0.key < $1.key }.map { entry -> (String, String, Int) in
                let parts = entry.key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "", entry.value)
            }
            return Snapshot(buckets: Array(zip(Self.latencyBuckets, bucketCounts)).map { ($0.0, $0.1) }, sum: latencySum,
                            count: latencyCount, images: imagesAnswered, requests: requestRows)
        }
    }
}

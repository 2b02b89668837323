import Cluster
import Foundation

/// `/metrics` in Prometheus' text exposition format (version 0.0.4), from a STATUS reply (all
/// batches the gateway's key may see), the gateway's own measurements and the store's size.
/// Per-worker evaluations are a counter: `rate(sdcluster_worker_evaluations_total[1m])` is each
/// worker's evaluations per second.
enum MetricsText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(status: StatusReply, workerRates: [String: Double], gateway: GatewayMetrics.Snapshot, storeBytes: Int?) -> String {
        var out = MetricsWriter()
        out.family("sdcluster_workers", "gauge", "Workers connected, by model and engine fingerprint.")
        var byModel: [[String]: Int] = [:]
        for worker in status.workers {
            for model in worker.models { byModel[[model, worker.engine ?? "unknown"], default: 0] += 1 }
        }
        for (labels, count) in byModel.sorted(by: { $0.key.joined() < $1.key.joined() }) {
            out.sample("sdcluster_workers", ["model": labels[0], "engine": labels[1]], Double(count))
        }
        out.family("sdcluster_worker_retired", "gauge", "1 for a worker the coordinator gives no more tasks (too many refused results).")
        for worker in status.workers { out.sample("sdcluster_worker_retired", ["worker": worker.name], worker.retired == nil ? 0 : 1) }
        out.family("sdcluster_worker_in_flight", "gauge", "UNet evaluations sent to a worker and not yet answered.")
        for worker in status.workers { out.sample("sdcluster_worker_in_flight", ["worker": worker.name], Double(worker.inFlight)) }
        out.family("sdcluster_worker_evaluations_total", "counter", "UNet evaluations a worker answered since it connected.")
        for worker in status.workers {
            out.sample("sdcluster_worker_evaluations_total", ["worker": worker.name, "engine": worker.engine ?? "unknown"],
                       Double(worker.evaluationsDone))
        }
        out.family("sdcluster_worker_evaluations_per_second", "gauge", "A worker's UNet evaluations per second between this gateway's looks (up to a minute apart).")
        for worker in status.workers {
            if let rate = workerRates[worker.name] { out.sample("sdcluster_worker_evaluations_per_second", ["worker": worker.name], rate) }
        }
        out.family("sdcluster_evaluations_per_second", "gauge", "UNet evaluations per second over the last minute, all workers.")
        out.sample("sdcluster_evaluations_per_second", [:], status.evaluationsPerSecond)

        var counts = ImageCounts()
        for batch in status.batches {
            for state in ImageStatus.allCases { counts[keyPath: keyPath(state)] += batch.counts[state] }
        }
        out.family("sdcluster_images", "gauge", "Images of the visible batches, by state.")
        for state in ImageStatus.allCases { out.sample("sdcluster_images", ["state": state.rawValue], Double(counts[state])) }
        out.family("sdcluster_batches", "gauge", "Visible batches, by state.")
        var batchStates: [String: Int] = [:]
        for batch in status.batches { batchStates[batch.state, default: 0] += 1 }
        for (state, count) in batchStates.sorted(by: { $0.key < $1.key }) { out.sample("sdcluster_batches", ["state": state], Double(count)) }
        out.family("sdcluster_problems", "gauge", "Problems the coordinator reports (e.g. an output folder it cannot write).")
        out.sample("sdcluster_problems", [:], Double(status.problems?.count ?? 0))
        if let storeBytes {
            out.family("sdcluster_store_bytes", "gauge", "Size of the job store's files.")
            out.sample("sdcluster_store_bytes", [:], Double(storeBytes))
        }

        if let counters = status.counters {
            out.family("sdcluster_tasks_resent_total", "counter", "Tasks put back to be sent again (worker lost or retired, deadline missed, result failed or refused).")
            out.sample("sdcluster_tasks_resent_total", [:], Double(counters.tasksResent))
            out.histogram("sdcluster_unet_task_seconds", "Send-to-answer time of accepted UNet tasks (one step of one or more images).",
                          counters.unetTaskSeconds)
            out.histogram("sdcluster_image_seconds", "Queued-to-written time of images finished since the coordinator started.",
                          counters.imageSeconds)
        }
        out.family("sdcluster_http_txt2img_seconds", "histogram", "Time from a txt2img call to its answer (all its images).")
        for bucket in gateway.buckets {
            out.sample("sdcluster_http_txt2img_seconds_bucket", ["le": MetricsWriter.number(bucket.bound)], Double(bucket.count))
        }
        out.sample("sdcluster_http_txt2img_seconds_bucket", ["le": "+Inf"], Double(gateway.count))
        out.sample("sdcluster_http_txt2img_seconds_sum", [:], gateway.sum)
        out.sample("sdcluster_http_txt2img_seconds_count", [:], Double(gateway.count))
        out.family("sdcluster_http_txt2img_images_total", "counter", "Images answered by txt2img calls.")
        out.sample("sdcluster_http_txt2img_images_total", [:], Double(gateway.images))
        out.family("sdcluster_http_requests_total", "counter", "HTTP requests answered, by route and status.")
        for row in gateway.requests {
            out.sample("sdcluster_http_requests_total", ["route": row.route, "status": row.status], Double(row.count))
        }
        return out.text
    }

    private static func keyPath(_ state: ImageStatus) -> WritableKeyPath<ImageCounts, Int> {
        switch state {
        case .queued: return \.queued
        case .running: return \.running
        case .done: return \.done
        case .failed: return \.failed
        case .cancelled: return \.cancelled
        }
    }

    /// The total size of the files in the store folder (the database and its journal).
    static func storeBytes(_ directory: String?) -> Int? {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        return names.reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(name))
            return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
        }
    }
}

/// Lines of the text format: `# HELP`, `# TYPE`, then samples with escaped label values.
struct MetricsWriter {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escaped($0.value))\"" }
        text += name + (rendered.isEmpty ? "" : "{\(rendered.joined(separator: ","))}") + " " + Self.number(value) + "\n"
    }

    /// A histogram family from the coordinator's per-bucket counts (the format wants them cumulative).
    mutating func histogram(_ name: String, _ help: String, _ h: LatencyHistogram) {
        family(name, "histogram", help)
        var cumulative = 0
        for (bound, count) in zip(h.bounds, h.counts) {
            cumulative += count
            sample(name + "_bucket", ["le": Self.number(bound)], Double(cumulative))
        }
        sample(name + "_bucket", ["le": "+Inf"], Double(h.count))
        sample(name + "_sum", [:], h.sum)
        sample(name + "_count", [:], Double(h.count))
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

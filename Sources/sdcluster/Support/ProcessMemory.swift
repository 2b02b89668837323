import Foundation

/// Memory figures of this process from `/proc/self/status` (Linux).
enum ProcessMemory {
    /// Peak resident set size (VmHWM), in bytes; 0 when unavailable.
    static var peakResidentBytes: Int { field("VmHWM") }
    /// Current resident set size (VmRSS), in bytes.
    static var residentBytes: Int { field("VmRSS") }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            // "VmHWM:\t 3722448 kB", but "VmHWM:\t10485760 kB" from 8 digits on (10 GB and up):
            // split on tabs as well as spaces, or large values read as 0.
            let digits = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }
}

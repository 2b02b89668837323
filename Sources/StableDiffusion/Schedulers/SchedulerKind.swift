/// The schedulers sdcluster implements, by their command-line names.
public enum SchedulerKind: String, Codable, Sendable, CaseIterable {
    case ddim
    case pndm
    case euler
    case eulerAncestral = "euler-a"
    case dpmpp2m = "dpmpp-2m"
    case dpmpp2mKarras = "dpmpp-2m-karras"
}

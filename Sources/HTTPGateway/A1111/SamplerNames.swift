import StableDiffusion

/// AUTOMATIC1111's sampler and scheduler names for the schedulers sdcluster has. The web UI
/// names a sampler ("DPM++ 2M") and, since 1.9, a sigma schedule ("Karras") apart; its
/// "Automatic" schedule is the sampler's own default, which for DPM++ 2M is Karras.
enum SamplerNames {
    /// One sampler as `/sdapi/v1/samplers` lists it.
    struct Sampler {
        var name: String
        var aliases: [String]
        /// The scheduler per schedule name (lower case); "automatic" is always there.
        var schedules: [String: SchedulerKind]
    }

    static let samplers: [Sampler] = [
        Sampler(name: "DPM++ 2M", aliases: ["k_dpmpp_2m"],
                schedules: ["automatic": .dpmpp2mKarras, "karras": .dpmpp2mKarras, "uniform": .dpmpp2m]),
        Sampler(name: "Euler a", aliases: ["k_euler_a", "k_euler_ancestral"], schedules: ["automatic": .eulerAncestral]),
        Sampler(name: "Euler", aliases: ["k_euler"], schedules: ["automatic": .euler]),
        Sampler(name: "DDIM", aliases: ["ddim"], schedules: ["automatic": .ddim]),
        Sampler(name: "PLMS", aliases: ["plms"], schedules: ["automatic": .pndm]),
    ]

    /// A1111's schedule names (name, label) that some sampler here takes.
    static let schedules: [(name: String, label: String)] = [("automatic", "Automatic"), ("uniform", "Uniform"), ("karras", "Karras")]

    /// The web UI before 1.9 folded the schedule into the name.
    static let foldedNames: [String: (sampler: String, schedule: String)] = [
        "dpm++ 2m karras": ("DPM++ 2M", "karras"),
        "k_dpmpp_2m_ka": ("DPM++ 2M", "karras"),
    ]

    /// The scheduler for a sampler name and an optional schedule (name or label, any case), or
    /// a message that says what this cluster has instead.
    static func scheduler(sampler rawName: String, schedule rawSchedule: String?) -> Result<SchedulerKind, Refusal> {
        var name = rawName.trimmingCharacters(in: .whitespaces).lowercased()
        var schedule = rawSchedule.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "automatic"
        if schedule.isEmpty { schedule = "automatic" }
        if let folded = foldedNames[name] {
            name = folded.sampler.lowercased()
            if schedule == "automatic" { schedule = folded.schedule }
        }
        guard let sampler = samplers.first(where: { $0.name.lowercased() == name || $0.aliases.contains(name) }) else {
            return .failure(Refusal(field: "sampler_name",
                                    message: "sampler '\(rawName)' is not one sdcluster has; it has: \(samplers.map(\.name).joined(separator: ", "))"))
        }
        if let label = schedules.first(where: { $0.label.lowercased() == schedule }) { schedule = label.name }
        guard let kind = sampler.schedules[schedule] else {
            let offered = sampler.schedules.keys.sorted().compactMap { key in schedules.first { $0.name == key }?.label }
            return .failure(Refusal(field: "scheduler",
                                    message: "schedule '\(rawSchedule ?? "")' is not available with sampler \(sampler.name) here; it takes: \(offered.joined(separator: ", "))"))
        }
        return .success(kind)
    }

    struct Refusal: Error {
        var field: String
        var message: String
    }
}

import Foundation

/// The layers of one network a LoRA can change, found from the names the model really has.
///
/// kohya names modules with every dot written as `_` (`down_blocks_0_attentions_0_proj_in`), which
/// cannot be turned back into dots by rule (`down_blocks` holds one underscore of its own). So
/// rather than guessing, every weight name of the model is spelled the kohya way and looked up:
/// `down_blocks.0.attentions.0.proj_in.weight` is found as `down_blocks_0_attentions_0_proj_in`.
/// UNet LoRAs made against the CompVis layout (`input_blocks_1_1_proj_in`) are found the same way
/// through the CompVis spelling of each UNet name. PEFT files use dotted names and are looked up
/// directly.
public struct LoRATargets: Sendable {
    /// kohya spelling -> the store's weight name (ending in `.weight`).
    private var byUnderscoredName: [String: String] = [:]
    /// kohya spellings that two weights share, which therefore name no layer for sure.
    private var ambiguous: Set<String> = []
    public let store: WeightStore

    /// Indexes `store`'s weights; `compVisMap` adds the CompVis spelling of each name (UNet).
    public init(store: WeightStore, compVisMap: CompVisKeyMap? = nil) {
        self.store = store
        for name in store.names where name.hasSuffix(".weight") {
            let module = String(name.dropLast(".weight".count))
            var spellings = [Self.underscored(module)]
            // Text encoder files from transformers 5 omit the `text_model.` level.
            if module.hasPrefix("text_model.") { spellings.append(Self.underscored(String(module.dropFirst("text_model.".count)))) }
            if let compVis = compVisMap?.compVisName(name), compVis.hasSuffix(".weight") {
                spellings.append(Self.underscored(String(compVis.dropLast(".weight".count))))
            }
            for spelling in Set(spellings) {
                if let other = byUnderscoredName[spelling], other != name { ambiguous.insert(spelling) }
                byUnderscoredName[spelling] = name
            }
        }
    }

    static func underscored(_ module: String) -> String { module.replacingOccurrences(of: ".", with: "_") }

    /// The model weight that `layer` changes, or nil when the model has no such layer.
    public func weightName(for layer: LoRAFile.Layer, layout: LoRAFile.Layout) -> String? {
        switch layout {
        case .peft:
            let name = store.canonicalName(layer.module + ".weight")
            return store.contains(name) ? name : nil
        case .kohya:
            guard !ambiguous.contains(layer.module) else { return nil }
            return byUnderscoredName[layer.module]
        }
    }
}

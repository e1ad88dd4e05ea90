import Foundation
import LibPQ
import Testing

@Suite("UUIDs as text")
struct UUIDTextTests {
    @Test func lowercaseTextIsTheCanonicalTextInLowercase() {
        for _ in 0..<100 {
            let id = UUID()
            #expect(id.lowercaseText == id.uuidString.lowercased())
        }
        let edges = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        #expect(edges.map(\.lowercaseText) == ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"])
    }

    @Test func canonicalTextReadsEitherCase() {
        for _ in 0..<100 {
            let id = UUID()
            #expect(UUID(canonicalText: id.uuidString) == id)
            #expect(UUID(canonicalText: id.lowercaseText) == id)
        }
    }

    @Test func canonicalTextRefusesWhatIsNotOne() {
        let id = UUID().lowercaseText
        let wrong = [
            "", "not a uuid", String(id.dropLast()), id + "0", "{\(id)}", id.replacingOccurrences(of: "-", with: ""),
            id.replacingOccurrences(of: "-", with: "_"), "g" + id.dropFirst(), String(id.prefix(35)) + "é",
        ]
        for text in wrong {
            #expect(UUID(canonicalText: text) == nil, "\(text)")
        }
    }
}

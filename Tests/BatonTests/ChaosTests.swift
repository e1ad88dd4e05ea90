import BatonChaos
import BatonTesting
import Foundation
import Testing

@Suite("Chaos: faults of every kind under a mixed load", .tags(.process))
struct ChaosTests {
    @Test func nothingIsLostRunTwiceOrHalfWrittenUnderTheSmallProfile() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-chaos-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let harness = ChaosHarness(profile: .small, baton: BatonProcess.executable, folder: folder) { print("chaos: \($0)") }
        let report = try await harness.run()
        let figures = Dictionary(uniqueKeysWithValues: report.figures.map { ($0.name, $0.value) })
        #expect(report.passed, "\(report.lines.joined(separator: "\n"))")
        // The load ran and every kind of fault landed on it.
        #expect(figures["runs completed", default: 0] >= ChaosProfile.small.tenStepRuns + ChaosProfile.small.orders)
        #expect(figures["events consumed", default: 0] > 0)
        for kind in FaultKind.allCases { #expect(figures["faults: \(kind.rawValue)", default: 0] > 0, "\(kind.rawValue)") }
    }
}

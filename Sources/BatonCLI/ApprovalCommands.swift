import ArgumentParser
import Baton
import Foundation

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List approvals, newest first: those a role may decide now, or by status."
    )

    @Option(help: "Only pending approvals this role may decide now.")
    var role: String?

    @Option(help: "Only approvals with this status: \(ApprovalDesk.statuses.joined(separator: ", ")).")
    var status: String?

    @Option(help: "At most this many.")
    var limit = 50

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let approvals = try await CommandDatabase.with { database in
            try await database.desk.approvals(role: role, status: status, limit: limit)
        }
        try output.report(approvals) {
            for approval in approvals { print(approval.line) }
            if approvals.isEmpty { print("No approvals.") }
        }
    }
}

struct SuggestionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggestions", abstract: "List actions that policies only suggested (recorded, not carried out), newest first."
    )

    @Option(help: "At most this many.")
    var limit = 50

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let suggestions = try await CommandDatabase.with { database in
            try await database.desk.approvals(status: "suggested", limit: limit)
        }
        try output.report(suggestions) {
            for suggestion in suggestions {
                print("\(suggestion.line)\n    \(suggestion.action.payload ?? "(no payload)")")
            }
            if suggestions.isEmpty { print("No suggestions.") }
        }
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a pending approval, optionally editing the proposed payload."
    )

    @Argument(help: "The approval's id (see baton approvals).")
    var approval: String

    @Option(name: .customLong("as"), help: "Who approves: a member of a role the approval waits for now.")
    var actor: String

    @Option(help: "The role to approve as (default: the first role asked now that --as holds).")
    var role: String?

    @Option(help: "Why, for the audit trail.")
    var comment: String?

    @Option(help: "The payload to carry out instead of the proposed one, as JSON or @file.")
    var edit: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let id = try parseID(approval, of: "approval")
        let edit = try self.edit.map { String(decoding: try readJSON($0, option: "--edit"), as: UTF8.self) }
        let decision = try await CommandDatabase.with { database in
            try await database.desk.approve(id, as: actor, role: role, comment: comment, edit: edit)
        }
        try output.report(decision) { print(decision.line) }
    }
}

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject a pending approval, giving a reason.")

    @Argument(help: "The approval's id (see baton approvals).")
    var approval: String

    @Option(name: .customLong("as"), help: "Who rejects: a member of a role the approval waits for now.")
    var actor: String

    @Option(help: "The role to reject as (default: the first role asked now that --as holds).")
    var role: String?

    @Option(help: "Why; journaled and kept for the audit trail.")
    var reason: String

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let id = try parseID(approval, of: "approval")
        let decision = try await CommandDatabase.with { database in
            try await database.desk.reject(id, as: actor, role: role, reason: reason)
        }
        try output.report(decision) { print(decision.line) }
    }
}

extension ApprovalSummary {
    /// One line for a person: id, status, where, what, who is asked and by when.
    var line: String {
        var line = "\(id)  \(status.padding(toLength: 13, withPad: " ", startingAt: 0))  \(workflow)/\(state)  \(action.kind)"
        if let amount = action.amount { line += " \(amount.formatted(.number.precision(.fractionLength(0...2))))" }
        if let subject = action.subject { line += " for \(subject)" }
        if status == "pending" {
            line += "  asks \(roles.joined(separator: " or ")) (level \(level), quorum \(quorum ?? 1))"
            if let deadline { line += " by \(deadline.formatted(.iso8601))" }
        }
        return line
    }
}

extension ApprovalDesk.Decision {
    /// What the decision did, in words.
    var line: String {
        switch outcome {
        case .some(let outcome): "approval \(approvalID) is \(outcome.rawValue); run \(runID) goes on."
        case nil: "approval \(approvalID): \(verdict), \(approvals) of \(quorum) approvals so far."
        }
    }
}

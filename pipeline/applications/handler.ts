/**
 * The processing Lambda's handler, and the SNS side of the notice. The Pulumi callback builds
 * the clients and stores once per cold start and passes them in.
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { Notice } from "./notice";
import { processApplicationEvent, type ApplicationsDeps, type ProcessingResult } from "./process";

/** Publishes notices to an SNS topic. */
export function snsNotifier(client: SNSClient, topicArn: string): (notice: Notice) => Promise<void> {
  return async (notice) => {
    await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: notice.subject,
        Message: notice.message,
        MessageAttributes: Object.fromEntries(
          Object.entries(notice.attributes).map(([name, value]) => [
            name,
            { DataType: "String", StringValue: value || "-" },
          ]),
        ),
      }),
    );
  };
}

/** Builds the handler: one EventBridge "Object Created" event -> its ProcessingResult. */
export function createApplicationsHandler(deps: ApplicationsDeps): (event: unknown) => Promise<ProcessingResult> {
  return async (event: unknown) => processApplicationEvent(event, deps);
}

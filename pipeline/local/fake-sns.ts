/**
 * A stand-in for SNS's Publish on 127.0.0.1, for the packaged applications Lambda: it answers
 * the Query protocol the SDK speaks (form-encoded POST, XML answer) and records each message.
 * Only Publish; any other action answers 400 InvalidAction, as SNS does for an unknown one.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One published message. */
export interface PublishedMessage {
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** A running fake SNS. */
export interface FakeSns {
  /** For AWS_ENDPOINT_URL_SNS. */
  readonly endpoint: string;
  readonly published: readonly PublishedMessage[];
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The message attributes of a Publish form: MessageAttributes.entry.N.Name / .Value.StringValue. */
function attributesOf(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
    out[form.get(`MessageAttributes.entry.${n}.Name`) as string] =
      form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? "";
  }
  return out;
}

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeSns(): Promise<FakeSns> {
  const published: PublishedMessage[] = [];
  const server = createServer((request, response) => {
    void bodyOf(request).then((text) => {
      const form = new URLSearchParams(text);
      const requestId = randomUUID();
      if (form.get("Action") !== "Publish" || !form.get("TopicArn") || form.get("Message") === null) {
        response.writeHead(400, { "content-type": "text/xml" });
        response.end(
          `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the fake SNS answers Publish with TopicArn and Message only</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
        return;
      }
      published.push({
        topicArn: form.get("TopicArn") as string,
        ...(form.get("Subject") === null ? {} : { subject: form.get("Subject") as string }),
        message: form.get("Message") as string,
        attributes: attributesOf(form),
      });
      response.writeHead(200, { "content-type": "text/xml" });
      response.end(
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    published,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

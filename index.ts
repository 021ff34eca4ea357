/**
 * The Pulumi program: one daily weather pipeline per stack, shaped by Pulumi.<stack>.yaml.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./pipeline/infra/config";
import { WeatherPipeline } from "./pipeline/infra/weather-pipeline";

const config = loadStackConfig();
// Project and stack in every name: several stacks share one account and region.
const pipeline = new WeatherPipeline(`${pulumi.getProject()}-${pulumi.getStack()}`, config);

export const rawBucketName = pipeline.rawBucket.name;
export const curatedBucketName = pipeline.curatedBucket.name;
export const stateMachineArn = pipeline.stateMachine.arn;
export const ingestFunctionName = pipeline.ingest.function.name;
export const transformFunctionName = pipeline.transform.function.name;
export const scheduleState = pipeline.schedule.state;
/** Starts a run by hand; drop --input for yesterday. */
export const startRunCommand = pulumi.interpolate`aws stepfunctions start-execution --state-machine-arn ${pipeline.stateMachine.arn} --input '{"date":"YYYY-MM-DD"}'`;

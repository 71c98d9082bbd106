//! Synthesizes the stack in-process for the tests and helps read the template.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { RaGenieStack, RaGenieStackProps } from '../lib/ragenie-stack';
import { loadRoutes } from '../lib/routes';

export type Resource = { Type: string; Properties?: any; DependsOn?: string[] };

export interface Synthesized {
  stack: RaGenieStack;
  template: Template;
  resources: Record<string, Resource>;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function synth(overrides: Partial<RaGenieStackProps> = {}, stackName = 'RaGenie'): Synthesized {
  const app = new App({ outdir: tempDir('ragenie-cdk-out-') });
  const stack = new RaGenieStack(app, stackName, {
    routes: loadRoutes(),
    lambdaArtifactsDir: tempDir('ragenie-no-lambdas-'),
    ...overrides,
  });
  const template = Template.fromStack(stack);
  return { stack, template, resources: template.toJSON().Resources };
}

export function logicalId(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(child as CfnElement);
}

export function ofType(resources: Record<string, Resource>, type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/**
 * A readable name for an IAM resource expression: `Ref X` and `GetAtt X.Arn` become `X`,
 * joins are flattened with their references named the same way, `*` stays `*`.
 */
export function describe(expr: unknown): string {
  if (typeof expr === 'string') return expr;
  if (Array.isArray(expr)) return expr.map(describe).join('');
  if (expr && typeof expr === 'object') {
    const o = expr as Record<string, any>;
    if ('Ref' in o) return `{${o.Ref}}`;
    if ('Fn::GetAtt' in o) return `{${o['Fn::GetAtt'][0]}}`;
    if ('Fn::Join' in o) return (o['Fn::Join'][1] as unknown[]).map(describe).join(o['Fn::Join'][0]);
    if ('Fn::Sub' in o) return String(o['Fn::Sub']);
  }
  return JSON.stringify(expr);
}

export function asList<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

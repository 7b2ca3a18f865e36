/**
 * `emulator_steps`: the next step of a job the emulator moves by itself. Times are epoch
 * milliseconds. A job has at most one row: its next step.
 */
export interface EmulatorStepsTable {
  project_id: string;
  job_id: string;
  /** What the job becomes at this step: RUNNING, then the outcome. */
  next_status: 'RUNNING' | 'SUCCESS' | 'FAIL';
  /** When the step is due. */
  due_at: number;
  /** How long the job runs: the outcome is due this long after it became RUNNING. */
  run_ms: number;
  outcome: 'SUCCESS' | 'FAIL';
  error_code: string | null;
  fail_reason: string | null;
}

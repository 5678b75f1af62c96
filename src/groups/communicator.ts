/**
 * The full communicator users hold: point-to-point, collectives, and the operations that make new
 * communicators.
 */
import { CollectiveCommunicator } from "../collectives/collective-communicator.js";

/** A group of ranks with its own message space: point-to-point, collectives and splitting. */
export class Communicator extends CollectiveCommunicator {}

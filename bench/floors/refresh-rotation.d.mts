/** The rotation statement of the refresh floor (refresh-rotation.mjs). */
export declare const ROTATION: string;

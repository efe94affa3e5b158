/** Studio's entry: the Preact app in #app (index.html links the style sheet). */
import { render } from 'preact';
import { App } from './app.js';

render(<App />, document.getElementById('app') as HTMLElement);
